"""Compiling a checked CEL tree into a vectorised plan (operations: :mod:`.rule_vector`).

A plan is built once per compiled expression (cached like the compilation) from the pruned,
statically checked tree; :func:`plan_for` returns None for an expression outside the subset
(macros, indexing, ``has``, conversions, ``matches``, timestamps, ...), which then runs in
cel-python's interpreter exactly as before.

Budgets: a plan records the most interpreter steps one row could cost (its tree nodes) and
what its constants build (list literals are charged on every evaluation); a plan that could
exceed a tenant's per-evaluation limits is not used (:meth:`VectorPlan.fits`), so every limit
a clean row could hit in the interpreter is hit there.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import lark
import numpy as np
from celpy import celtypes

from tailorcrm.customize.budget import EvalMeter, RuleLimits
from tailorcrm.customize.cel import RULE_VARIABLES, CompiledExpression, evaluate_constant
from tailorcrm.customize.rule_columns import (
    BOOL,
    DOUBLE,
    FLOAT,
    INT,
    LIST,
    MAP,
    NUM,
    STRING,
    Frame,
    Unsupported,
    Val,
    broadcast,
)
from tailorcrm.customize.rule_vector import (
    arithmetic,
    choose,
    compare,
    invert,
    logical,
    member,
    membership,
    negate,
    size,
    string_method,
)
from tailorcrm.errors import RuleError

Fn = Callable[[Frame], Val]
_PASS = frozenset({"expr", "conditionalor", "conditionaland", "relation", "addition",
                   "multiplication", "unary", "member"})
_ARITH_OPS = frozenset({"addition_add", "addition_sub", "multiplication_mul",
                        "multiplication_div"})
_STR_METHODS = frozenset({"startsWith", "endsWith", "contains"})
_HUGE = 10**12
_FOLD_LIMITS = RuleLimits(eval_steps=_HUGE, eval_ms=1e9, eval_alloc=_HUGE, max_string=_HUGE,
                          max_list=_HUGE, yield_ms=0)


class NotVectorisable(Exception):  # noqa: N818 - a routing signal, not an error
    """The expression uses something outside the subset: it has no plan."""


class _SizeMeter(EvalMeter):
    """A meter that also remembers the largest string and list built (folding constants)."""

    __slots__ = ("largest_list", "largest_string")

    def __init__(self) -> None:
        super().__init__(_FOLD_LIMITS)
        self.largest_list = self.largest_string = 0

    def charge(self, value: Any) -> None:
        if isinstance(value, str | bytes):
            self.largest_string = max(self.largest_string, len(value))
        elif isinstance(value, list | dict):
            self.largest_list = max(self.largest_list, len(value))
        super().charge(value)


def _from_cel(value: Any) -> Val:
    """The :class:`Val` of a folded constant (exact cel-python types)."""
    kind = type(value)
    if kind is celtypes.BoolType:
        return Val(BOOL, bool(value))
    if kind is celtypes.DoubleType:
        return Val(DOUBLE, float(value))
    if kind is float:
        return Val(FLOAT, value)
    if kind is celtypes.IntType:
        return Val(INT, int(value))
    if kind is celtypes.StringType:
        return Val(STRING, str(value))
    if kind is celtypes.ListType:
        elements = [_from_cel(v) for v in value]
        kinds = {e.kind for e in elements}
        if len(kinds) <= 1 and not kinds & {LIST, MAP}:
            return Val(LIST, (next(iter(kinds), None), tuple(e.data for e in elements)))
    raise NotVectorisable(f"a constant of type {kind.__name__}")


@dataclass(frozen=True)
class VectorPlan:
    """A vectorised evaluator of one expression, and what the interpreter would charge.

    ``steps``: the expression's tree nodes, the most steps one row costs in the interpreter
    (an upper bound, charged per row to a request's step budget); ``alloc``,
    ``largest_string``, ``largest_list``: what its constants build per evaluation.
    """

    fn: Fn
    steps: int
    alloc: int
    largest_string: int
    largest_list: int

    def fits(self, limits: RuleLimits) -> bool:
        """True when no clean row could reach a per-evaluation limit in the interpreter."""
        return (self.steps <= limits.eval_steps and self.alloc <= limits.eval_alloc
                and self.largest_string <= limits.max_string
                and self.largest_list <= limits.max_list)

    def run(self, frame: Frame, want: str) -> tuple[np.ndarray, np.ndarray]:
        """``(values, deferred rows)`` over the frame's rows: bools for ``want="bool"``,
        float64 for ``"factor"`` (rows whose factor is not a finite number > 0 deferred).
        Raises :class:`Unsupported` when the whole expression must run in the interpreter.
        """
        frame.begin()
        val = self.fn(frame)
        if want == "bool":
            if val.kind != BOOL:
                raise Unsupported(f"a {val.kind} condition")
            return broadcast(val, frame.n), frame.defer
        if val.kind not in NUM and val.kind != INT:
            raise Unsupported(f"a {val.kind} factor")
        values = broadcast(val, frame.n).astype(float)
        with np.errstate(invalid="ignore"):
            frame.defer |= ~(np.isfinite(values) & (values > 0))
        return values, frame.defer


class _Builder:
    def __init__(self, tree: lark.Tree) -> None:
        self.tree = tree
        self.meters: list[_SizeMeter] = []
        self.reads: set[int] = set()  # nodes with a variable below them
        for node in tree.iter_subtrees():  # children before parents
            if node.data == "ident" or any(isinstance(c, lark.Tree) and id(c) in self.reads
                                           for c in node.children):
                self.reads.add(id(node))

    def plan(self) -> VectorPlan:
        fn = self.build(self.tree)
        return VectorPlan(fn, sum(1 for _ in self.tree.iter_subtrees()),
                          sum(m.alloc for m in self.meters),
                          max((m.largest_string for m in self.meters), default=0),
                          max((m.largest_list for m in self.meters), default=0))

    def constant(self, node: lark.Tree) -> Fn:
        meter = _SizeMeter()
        try:
            val = _from_cel(evaluate_constant(node, meter))
        except RuleError as exc:
            raise NotVectorisable(exc.message) from None
        self.meters.append(meter)
        return lambda frame: val

    def build(self, node: Any) -> Fn:  # one case per node kind
        if not isinstance(node, lark.Tree):
            raise NotVectorisable("token")
        if id(node) not in self.reads:
            return self.constant(node)
        kind, ch = node.data, node.children
        if kind in _PASS and len(ch) == 1:
            return self.build(ch[0])
        if kind == "expr" and len(ch) == 3:
            c, a, b = (self.build(x) for x in ch)
            return lambda f: choose(c(f), a(f), b(f), f)
        if kind in ("conditionalor", "conditionaland") and len(ch) == 2:
            op = "||" if kind == "conditionalor" else "&&"
            a, b = self.build(ch[0]), self.build(ch[1])
            return lambda f: logical(op, a(f), b(f))
        if kind in ("relation", "addition", "multiplication") and len(ch) == 2:
            return self.binary(ch[0], ch[1])
        if kind == "unary" and len(ch) == 2 and isinstance(ch[0], lark.Tree):
            a = self.build(ch[1])
            if ch[0].data == "unary_not":
                return lambda f: invert(a(f))
            return lambda f: negate(a(f), f)
        if kind == "primary" and isinstance(ch[0], lark.Tree):
            inner = ch[0]
            if inner.data == "paren_expr":
                return self.build(inner.children[0])
            if inner.data == "ident_arg" and str(inner.children[0]) == "size":
                args = self.args(inner.children[1:])
                if len(args) == 1:
                    return lambda f: size(args[0](f), f)
            raise NotVectorisable(inner.data)
        if kind == "member_dot":
            return self.field(ch[0], str(ch[1]))
        if kind == "member_dot_arg":
            obj, name, args = self.build(ch[0]), str(ch[1]), self.args(ch[2:])
            if name == "size" and not args:
                return lambda f: size(obj(f), f)
            if name in _STR_METHODS and len(args) == 1:
                arg = args[0]
                return lambda f: string_method(name, obj(f), arg(f), f)
        raise NotVectorisable(kind)

    def binary(self, op_tree: Any, right: Any) -> Fn:
        if not isinstance(op_tree, lark.Tree) or len(op_tree.children) != 1:
            raise NotVectorisable("operator")
        op = op_tree.data
        a, b = self.build(op_tree.children[0]), self.build(right)
        if op == "relation_in":
            return lambda f: membership(a(f), b(f), f)
        if op.startswith("relation_"):
            return lambda f: compare(op, a(f), b(f), f)
        if op in _ARITH_OPS:
            return lambda f: arithmetic(op, a(f), b(f), f)
        raise NotVectorisable(op)  # % : an error on doubles, truncating on ints

    def field(self, obj: Any, name: str) -> Fn:
        root = _root_name(obj)
        if root == "item":
            return lambda f: f.item_field(name)
        if root is not None:
            return lambda f: f.field(root, name)
        inner = self.build(obj)
        return lambda f: member(inner(f), name)

    def args(self, rest: list[Any]) -> list[Fn]:
        if not rest or rest[0] is None:
            return []
        exprlist = rest[0]
        if not isinstance(exprlist, lark.Tree) or exprlist.data != "exprlist":
            raise NotVectorisable("arguments")
        return [self.build(x) for x in exprlist.children]


def _root_name(obj: Any) -> str | None:
    """``item`` for the ``item`` of ``item.price`` (a variable read directly), else None."""
    if isinstance(obj, lark.Tree) and obj.data == "primary" and obj.children:
        ident = obj.children[0]
        if isinstance(ident, lark.Tree) and ident.data == "ident":
            name = str(ident.children[0])
            return name if name in RULE_VARIABLES else None
    return None


@lru_cache(maxsize=4096)
def plan_for(expr: CompiledExpression) -> VectorPlan | None:
    """The vectorised plan of ``expr``, or None when it uses anything outside the subset
    (cached per compiled expression, like the compilation itself)."""
    try:
        return _Builder(expr.tree).plan()
    except NotVectorisable:
        return None
