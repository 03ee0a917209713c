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
* every evaluation error (missing field, type mismatch, division by zero) surfaces as a
  :class:`~tailorcrm.errors.RuleError` that callers turn into a fail-safe decision.

``matches`` uses RE2 inside cel-python (linear time), so regular-expression bombs are harmless.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import celpy
import lark
import numpy as np
from celpy import celtypes
from celpy.evaluation import CELEvalError, Evaluator

from tailorcrm.customize.cel_check import DEFAULT_LIMITS, CelLimits, check_tree
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
    def item_fields(self) -> frozenset[str] | None:
        """The ``item`` fields read (None: the whole item), so callers can memoise results
        per distinct value of these fields."""
        return self.fields.get("item", frozenset())

    def evaluate(self, activation: Mapping[str, Any]) -> Any:
        """Evaluate on CEL values (see :func:`to_cel`); raise RuleError on any failure."""
        try:
            value = self._runner.evaluate(dict(activation))
        except CELEvalError as exc:
            raise RuleError(f"evaluation failed: {_eval_message(exc)}",
                            expression=self.source) from exc
        except (RecursionError, MemoryError, TypeError, ValueError, KeyError,
                AttributeError, ArithmeticError, IndexError) as exc:
            # cel-python lets a few Python errors escape; they are rule failures too.
            raise RuleError(f"evaluation failed: {type(exc).__name__}: {exc}",
                            expression=self.source) from exc
        if isinstance(value, CELEvalError):
            raise RuleError(f"evaluation failed: {_eval_message(value)}", expression=self.source)
        return value


def _eval_message(exc: CELEvalError) -> str:
    return str(exc.args[0]) if exc.args else "error"


class _Runner(celpy.InterpretedRunner):
    """cel-python's tree-walking runner, with its base activation built once per expression.

    The stock runner rebuilds the activation (parsing the well-known type annotations with
    regular expressions) on every evaluation; each evaluation clones this one instead.
    """

    def __init__(self, environment: celpy.Environment, ast: lark.Tree,
                 functions: Mapping[str, Any] | None = None) -> None:
        super().__init__(environment, ast, dict(functions) if functions else None)
        self._base = self.new_activation()

    def evaluate(self, context: Any) -> Any:
        return Evaluator(ast=self.ast, activation=self._base).evaluate(context)


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
    roots, fields = check_tree(tree, variables, limits)
    runner = env.program(_prune(tree))
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
    """
    if value is None:
        return None
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
