"""Sandboxed Common Expression Language (CEL): checked compilation and fail-safe evaluation.

Expressions are parsed and interpreted by ``cel-python`` (``celpy``), a pure-Python CEL
implementation: nothing is ever passed to Python's ``eval``/``exec`` (we use its tree-walking
``InterpretedRunner``, not the transpiling ``CompiledRunner``). On top of the library we add
what it lacks for untrusted business rules:

* static checks at compile time with positions (:mod:`tailorcrm.customize.cel_check`): only
  the context variables and standard CEL functions, and size limits (source length, tree
  nodes, tree depth, macro nesting) so that one evaluation is bounded in time and memory
  and never hits Python's recursion limit;
* values converted from Python data (numbers become CEL ``double`` like JSON numbers do);
* a run-time cost budget enforced while the tree is walked (steps, sizes of built values,
  wall-clock time; :mod:`tailorcrm.customize.budget`), because a small expression can still
  be quadratic in the data;
* every evaluation error (missing field, type mismatch, division by zero, a budget limit)
  surfaces as a :class:`~tailorcrm.errors.RuleError` that callers turn into a fail-safe
  decision.

``matches`` uses RE2 (linear time), so regular-expression bombs are harmless; a literal
pattern RE2 refuses (backreferences, look-around) is refused at compile time, and a pattern
from data that RE2 refuses fails the rule without RE2 logging to stderr.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, cast

import celpy
import lark
import numpy as np
import re2
from celpy import celtypes
from celpy.evaluation import Activation, CELEvalError, Evaluator

from tailorcrm.customize.budget import (
    DEFAULT_RULE_LIMITS,
    BudgetExceeded,
    EvalMeter,
    RequestBudget,
)
from tailorcrm.customize.cel_check import DEFAULT_LIMITS, CelLimits, check_tree
from tailorcrm.customize.context import Unavailable
from tailorcrm.errors import RuleError

log = logging.getLogger(__name__)

RULE_VARIABLES = frozenset({"item", "customer", "needs", "context", "segments"})
"""The variables a business rule may read."""

@dataclass(frozen=True, eq=False)
class CompiledExpression:
    """A checked, ready-to-run CEL expression.

    Attributes
    ----------
    source:
        The expression text.
    roots:
        The context variables it reads (subset of the allowed variables).
    fields:
        Per root, the ``root.<field>`` names it reads, or None when it uses the root as a
        whole (``size(item)``, ``item[key]``).
    """

    source: str
    roots: frozenset[str]
    fields: Mapping[str, frozenset[str] | None]
    _runner: Any

    @property
    def tree(self) -> lark.Tree:
        """The checked parse tree the interpreter walks (pass-through links pruned)."""
        return self._runner.ast  # type: ignore[no-any-return]

    @property
    def item_fields(self) -> frozenset[str] | None:
        """The ``item`` fields read (None: the whole item), so callers can memoise results
        per distinct value of these fields."""
        return self.fields.get("item", frozenset())

    def evaluate(self, activation: Mapping[str, Any],
                 budget: RequestBudget | None = None) -> Any:
        """Evaluate on CEL values (see :func:`to_cel`); raise RuleError on any failure.

        The evaluation runs under ``budget`` (a fresh default budget when None); a limit
        reached raises RuleError with ``reason="budget"`` and ``limit`` naming it.
        """
        budget = budget if budget is not None else RequestBudget(DEFAULT_RULE_LIMITS)
        cpu = time.thread_time()
        meter: EvalMeter | None = None
        try:
            meter = budget.meter()
            value = self._runner.evaluate(dict(activation), meter)
        except BudgetExceeded as exc:
            raise RuleError(exc.message, expression=self.source, reason="budget",
                            limit=exc.limit) from None
        except CELEvalError as exc:
            raise RuleError(f"evaluation failed: {_eval_message(exc)}",
                            expression=self.source) from exc
        except (RecursionError, MemoryError, TypeError, ValueError, KeyError,
                AttributeError, ArithmeticError, IndexError) as exc:
            # cel-python lets a few Python errors escape; they are rule failures too.
            raise RuleError(f"evaluation failed: {type(exc).__name__}: {exc}",
                            expression=self.source) from exc
        finally:
            if meter is not None:
                budget.settle(meter, time.thread_time() - cpu)
        if isinstance(value, CELEvalError):
            raise RuleError(f"evaluation failed: {_eval_message(value)}", expression=self.source)
        return value


def evaluate_constant(tree: lark.Tree, meter: EvalMeter) -> Any:
    """Evaluate a checked (sub)tree that reads no variable, under ``meter`` (constant folding
    for :mod:`tailorcrm.customize.rule_vector`: the interpreter itself decides what a
    literal means); raise RuleError on any failure."""
    runner = cast(_Runner, _environment().program(tree, {"matches": _matches}))
    try:
        value = runner.evaluate({}, meter)
    except (BudgetExceeded, CELEvalError, RecursionError, MemoryError, TypeError, ValueError,
            KeyError, AttributeError, ArithmeticError, IndexError) as exc:
        raise RuleError(f"constant failed: {type(exc).__name__}") from None
    if isinstance(value, CELEvalError):
        raise RuleError(f"constant failed: {_eval_message(value)}")
    return value


def _eval_message(exc: CELEvalError) -> str:
    return str(exc.args[0]) if exc.args else "error"


# Nodes whose value is newly built (concatenation, macros and methods, calls, literals):
# their strings, lists and maps are charged to the budget. Reads and operators on
# existing values (field access, comparisons, ``?:``) build nothing.
_BUILDS = frozenset({"addition", "member_dot_arg", "ident_arg", "list_lit", "map_lit"})


class _MeteredEvaluator(Evaluator):
    """cel-python's evaluator with a cost meter checked at every node it visits.

    Macro bodies are evaluated by sub-evaluators that share the meter, so iterations
    count too. :class:`BudgetExceeded` is no exception type cel-python catches: it
    unwinds the whole evaluation at once.
    """

    def __init__(self, ast: lark.Tree, activation: Activation, meter: EvalMeter) -> None:
        super().__init__(ast, activation)
        self.meter = meter

    def sub_evaluator(self, ast: lark.Tree) -> Evaluator:
        return _MeteredEvaluator(ast, self.activation, self.meter)

    def _visit_tree(self, tree: lark.Tree) -> Any:
        self.meter.check()
        result = super()._visit_tree(tree)
        if tree.data in _BUILDS:
            self.meter.charge(result)
        elif type(result) is Unavailable:
            raise BudgetExceeded("attribute", f"{result.name} is too large for rules "
                                              f"({result.why})")
        return result


class _Runner(celpy.InterpretedRunner):
    """cel-python's tree-walking runner, with its base activation built once per expression.

    The stock runner rebuilds the activation (parsing the well-known type annotations with
    regular expressions) on every evaluation; each evaluation clones this one instead.
    """

    def __init__(self, environment: celpy.Environment, ast: lark.Tree,
                 functions: Mapping[str, Any] | None = None) -> None:
        super().__init__(environment, ast, dict(functions) if functions else None)
        self._base = self.new_activation()

    def evaluate(self, context: Any, meter: EvalMeter | None = None) -> Any:
        meter = meter if meter is not None else EvalMeter(DEFAULT_RULE_LIMITS)
        return _MeteredEvaluator(self.ast, self._base, meter).evaluate(context)


_RE2_OPTIONS = re2.Options()
_RE2_OPTIONS.log_errors = False  # RE2 would print every refused pattern to stderr


@lru_cache(maxsize=512)
def _regex(pattern: str) -> Any:
    return re2.compile(pattern, _RE2_OPTIONS)


def regex_error(pattern: str) -> str | None:
    """RE2's reason for refusing ``pattern`` (None when it compiles)."""
    try:
        _regex(pattern)
    except re2.error as exc:
        raw = exc.args[0] if exc.args else exc
        return raw.decode(errors="replace") if isinstance(raw, bytes) else str(raw)
    return None


def _matches(text: Any, pattern: Any) -> Any:
    """CEL ``matches`` on RE2 with compiled patterns cached and no logging of errors."""
    if not isinstance(text, str) or not isinstance(pattern, str):
        return CELEvalError("no such overload: matches", TypeError, ())
    why = regex_error(pattern)
    if why is not None:
        return CELEvalError(f"invalid regular expression: {why}", ValueError, ())
    return celtypes.BoolType(_regex(pattern).search(text) is not None)


@lru_cache(maxsize=1)
def _environment() -> celpy.Environment:
    # One environment per process: its constructor also raises the recursion limit to 2500.
    return celpy.Environment(runner_class=_Runner)


def compile_expression(source: str, *, variables: Iterable[str] = RULE_VARIABLES,
                       limits: CelLimits = DEFAULT_LIMITS) -> CompiledExpression:
    """Parse, check and prepare ``source``; cached, so compiling twice is free.

    Raises
    ------
    RuleError
        With ``details`` ``line``, ``column`` (1-based, when known) and ``reason`` when the
        expression does not parse, uses an unknown name or function, or exceeds a limit.
    """
    return _compile_cached(source, frozenset(variables), limits)


@lru_cache(maxsize=4096)
def _compile_cached(source: str, variables: frozenset[str],
                    limits: CelLimits) -> CompiledExpression:
    if not source.strip():
        raise RuleError("empty expression", line=1, column=1, reason="empty")
    if len(source) > limits.max_length:
        raise RuleError(f"expression longer than {limits.max_length} characters",
                        line=1, column=limits.max_length + 1, reason="too_long")
    env = _environment()
    try:
        tree = env.compile(source)
    except celpy.CELParseError as exc:
        cause = exc.__context__
        if isinstance(cause, lark.exceptions.UnexpectedToken) and cause.token.type == "$END":
            # Point after the last character, where something is missing.
            lines = source.rstrip().split("\n")
            exc.line, exc.column = len(lines), len(lines[-1]) + 1
        raise RuleError(_parse_message(exc), line=exc.line, column=exc.column,
                        reason="syntax") from None
    roots, fields = check_tree(tree, variables, limits, regex_error)
    runner = env.program(_prune(tree), {"matches": _matches})
    return CompiledExpression(source, roots, fields, runner)


# Grammar rules whose one-child form only passes its child's value up (cel-python's
# Evaluator returns ``visit_children(tree)[0]`` for them). Dropping those links is the kind of
# AST optimization cel-python's Environment is designed to allow between compile and program;
# it halves the tree walk. ``primary`` is kept: it dispatches on its child's kind.
_PASS_THROUGH = frozenset({"expr", "conditionalor", "conditionaland", "relation", "addition",
                           "multiplication", "unary", "member"})


def _prune(tree: lark.Tree) -> lark.Tree:
    """The same expression without one-child pass-through links (after the checks ran)."""

    def skip(node: lark.Tree) -> lark.Tree:
        while (node.data in _PASS_THROUGH and len(node.children) == 1
               and isinstance(node.children[0], lark.Tree)):
            node = node.children[0]
        return node

    root = skip(tree)
    stack = [root]
    while stack:
        node = stack.pop()
        node.children = [skip(c) if isinstance(c, lark.Tree) else c for c in node.children]
        stack.extend(c for c in node.children if isinstance(c, lark.Tree))
    return root


def _parse_message(exc: celpy.CELParseError) -> str:
    cause = exc.__context__
    where = f"line {exc.line}, column {exc.column}" if exc.line else "position unknown"
    if isinstance(cause, lark.exceptions.UnexpectedToken):
        if cause.token.type == "$END":
            what = "unexpected end of expression"
        else:
            what = f"unexpected {cause.token.value!r}"
        expected = sorted(x for x in cause.expected if not x.startswith("__"))[:8]
        if expected:
            what += f" (expected one of {', '.join(expected)})"
    elif isinstance(cause, lark.exceptions.UnexpectedCharacters):
        what = f"unexpected character {cause.char!r}"
    else:
        what = str(exc).splitlines()[0]
    return f"syntax error at {where}: {what}"


def to_cel(value: Any) -> Any:
    """A CEL value for plain Python / NumPy / pandas data.

    Numbers become ``double`` (as JSON numbers do in CEL), so write ``item.price == 10.0``;
    NaN and None become ``null``; datetimes become timestamps; sets, tuples and arrays
    become lists; mapping keys become strings; anything else becomes its string.
    :class:`~tailorcrm.customize.context.Unavailable` stays as it is (reading it fails).
    """
    if value is None or isinstance(value, Unavailable):
        return value
    if isinstance(value, bool | np.bool_):
        return celtypes.BoolType(bool(value))
    if isinstance(value, int | float | np.integer | np.floating):
        number = float(value)
        return None if math.isnan(number) else celtypes.DoubleType(number)
    if isinstance(value, str):
        return celtypes.StringType(value)
    if isinstance(value, Mapping):
        return celtypes.MapType({celtypes.StringType(str(k)): to_cel(v)
                                 for k, v in value.items()})
    if isinstance(value, list | tuple | set | frozenset | np.ndarray):
        items = sorted(value, key=str) if isinstance(value, set | frozenset) else value
        return celtypes.ListType([to_cel(v) for v in items])
    if isinstance(value, dt.datetime):
        if value != value:  # pandas NaT
            return None
        stamp = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
        return celtypes.TimestampType(stamp)
    if isinstance(value, dt.timedelta):
        return celtypes.DurationType(value)
    if isinstance(value, dt.date):
        return celtypes.TimestampType(dt.datetime(value.year, value.month, value.day,
                                                  tzinfo=dt.UTC))
    return celtypes.StringType(str(value))


def to_python(value: Any) -> Any:
    """Plain Python for a CEL result (bool, float, str, list, dict, None)."""
    if value is None or isinstance(value, celtypes.BoolType):
        return None if value is None else bool(value)
    if isinstance(value, celtypes.IntType | celtypes.UintType | celtypes.DoubleType):
        return float(value)
    if isinstance(value, celtypes.StringType):
        return str(value)
    if isinstance(value, celtypes.ListType):
        return [to_python(v) for v in value]
    if isinstance(value, celtypes.MapType):
        return {str(k): to_python(v) for k, v in value.items()}
    return value
