"""Sandboxed Common Expression Language (CEL): checked compilation and fail-safe evaluation.

Expressions are parsed and interpreted by ``cel-python`` (``celpy``), a pure-Python CEL
implementation: nothing is ever passed to Python's ``eval``/``exec`` (we use its tree-walking
``InterpretedRunner``, not the transpiling ``CompiledRunner``). On top of the library we add
what it lacks for untrusted business rules:

* a static check at compile time (the library only finds unknown names when evaluating): the
  only variables are the context roots (``item``, ``customer``, ``needs``, ``context``,
  ``segments``) and macro-bound names; only the standard CEL functions and methods are
  allowed (the library's non-standard ``reduce``/``min`` macros are refused because ``reduce``
  can double a string per step); no dunder field names, no message construction;
* size limits (source length, tree nodes, tree depth, macro nesting) so that one evaluation is
  bounded in time and memory and never hits Python's recursion limit;
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
from pydantic import BaseModel, ConfigDict, Field

from tailorcrm.errors import RuleError

log = logging.getLogger(__name__)

RULE_VARIABLES = frozenset({"item", "customer", "needs", "context", "segments"})
"""The variables a business rule may read."""

TYPE_NAMES = frozenset({"int", "uint", "double", "string", "bool", "bytes", "list", "map",
                        "null_type", "type"})
FUNCTIONS = frozenset({"size", "int", "uint", "double", "string", "bool", "bytes", "type",
                       "dyn", "has", "duration", "timestamp", "matches", "contains",
                       "startsWith", "endsWith"})
MACROS = frozenset({"map", "filter", "all", "exists", "exists_one"})
METHODS = MACROS | frozenset({
    "size", "contains", "startsWith", "endsWith", "matches", "getDate", "getDayOfMonth",
    "getDayOfWeek", "getDayOfYear", "getFullYear", "getMonth", "getHours", "getMilliseconds",
    "getMinutes", "getSeconds"})
_FORBIDDEN_NODES = {
    "member_object": "message construction is not supported",
    "dot_ident": "leading-dot names are not supported",
    "dot_ident_arg": "leading-dot calls are not supported",
}


class CelLimits(BaseModel):
    """Static size limits every expression must respect (checked when compiling)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_length: int = Field(2000, gt=0, description="Characters of source.")
    max_nodes: int = Field(2000, gt=0, description="Nodes of the parse tree.")
    max_depth: int = Field(300, gt=0, description="Depth of the parse tree (~10 per nesting).")
    max_macro_nesting: int = Field(2, ge=0, description="Macros inside macros.")


DEFAULT_LIMITS = CelLimits()


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
    roots, fields = _check(tree, variables, limits)
    runner = env.program(tree)
    return CompiledExpression(source, roots, fields, runner)


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


def _pos(node: lark.Tree | lark.Token) -> dict[str, int | None]:
    if isinstance(node, lark.Token):
        return {"line": node.line, "column": node.column}
    meta = node.meta
    return {"line": getattr(meta, "line", None), "column": getattr(meta, "column", None)}


def _fail(message: str, node: lark.Tree | lark.Token, reason: str) -> RuleError:
    pos = _pos(node)
    where = f"line {pos['line']}, column {pos['column']}: " if pos["line"] else ""
    return RuleError(f"{where}{message}", reason=reason, **pos)


def _ident_of(tree: lark.Tree | lark.Token) -> lark.Token | None:
    """The IDENT of an expression that is a bare name (the variable of a macro)."""
    node: lark.Tree | lark.Token = tree
    while isinstance(node, lark.Tree):
        if node.data == "ident":
            return node.children[0]  # type: ignore[return-value]
        if len(node.children) != 1:
            return None
        node = node.children[0]
    return None


def _direct_field(member_dot: lark.Tree) -> tuple[lark.Tree, str, str] | None:
    """For ``<name>.<field>``: the ``ident`` node of the name, the name and the field."""
    obj = member_dot.children[0]
    ident = _ident_of(obj)
    if ident is None:
        return None
    node = obj
    while isinstance(node, lark.Tree) and node.data != "ident":
        node = node.children[0]
    return node, str(ident.value), str(member_dot.children[1])  # type: ignore[return-value]


def _check(tree: lark.Tree, variables: frozenset[str], limits: CelLimits
           ) -> tuple[frozenset[str], dict[str, frozenset[str] | None]]:
    """Walk the tree once (iteratively): names, functions, limits; roots and their fields."""
    bound: set[str] = set()
    for node in tree.iter_subtrees():
        if node.data == "member_dot_arg" and str(node.children[1]) in MACROS:
            args = node.children[2] if len(node.children) > 2 else None
            first = args.children[0] if isinstance(args, lark.Tree) and args.children else None
            name = _ident_of(first) if first is not None else None
            if name is None:
                raise _fail(f"macro {node.children[1]}() needs a variable name first",
                            node, "macro")
            if name.value in variables:
                raise _fail(f"macro variable {name.value!r} shadows a context variable",
                            name, "macro")
            bound.add(str(name.value))
    roots: set[str] = set()
    fields: dict[str, set[str]] = {}
    covered: set[int] = set()
    root_idents: list[tuple[str, lark.Tree]] = []
    nodes = 0
    stack: list[tuple[lark.Tree, int, int]] = [(tree, 1, 0)]
    while stack:
        node, depth, macros = stack.pop()
        nodes += 1
        if nodes > limits.max_nodes:
            raise _fail(f"expression has more than {limits.max_nodes} parse nodes", node,
                        "too_large")
        if depth > limits.max_depth:
            raise _fail(f"expression nested deeper than {limits.max_depth} levels", node,
                        "too_deep")
        kind = node.data
        if kind in _FORBIDDEN_NODES:
            raise _fail(_FORBIDDEN_NODES[kind], node, "forbidden")
        if kind == "ident":
            ident = str(node.children[0])
            if ident in variables:
                roots.add(ident)
                root_idents.append((ident, node))
            elif ident not in bound and ident not in TYPE_NAMES:
                raise _fail(f"unknown name {ident!r} (a rule can read "
                            f"{', '.join(sorted(variables))})", node.children[0], "unknown_name")
        elif kind == "ident_arg":
            fn = node.children[0]
            if str(fn) not in FUNCTIONS:
                raise _fail(f"unknown function {fn}()", fn, "unknown_function")
        elif kind in ("member_dot", "member_dot_arg"):
            attr = node.children[1]
            if str(attr).startswith("__"):
                raise _fail(f"field name {attr} is not allowed", attr, "forbidden")
            if kind == "member_dot_arg":
                if str(attr) not in METHODS:
                    raise _fail(f"unknown method .{attr}()", attr, "unknown_function")
                if str(attr) in MACROS:
                    macros += 1
                    if macros > limits.max_macro_nesting:
                        raise _fail(f"macros nested deeper than {limits.max_macro_nesting}",
                                    attr, "too_deep")
            else:
                direct = _direct_field(node)
                if direct is not None and direct[1] in variables:
                    covered.add(id(direct[0]))
                    fields.setdefault(direct[1], set()).add(direct[2])
        for child in node.children:
            if isinstance(child, lark.Tree):
                stack.append((child, depth + 1, macros))
    whole = {root for root, n in root_idents if id(n) not in covered}
    return frozenset(roots), {root: None if root in whole else frozenset(fields.get(root, ()))
                              for root in roots}


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
