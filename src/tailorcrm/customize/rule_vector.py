"""Business rules as vectorised evaluators over the candidate columns: the operations.

The checked, pruned CEL tree of a rule (:mod:`tailorcrm.customize.cel`) is compiled once
(:mod:`.rule_plan`) into closures that each compute one node for *all* candidates with NumPy:
field reads on ``item`` are columns, fields of ``customer`` / ``needs`` / ``segments`` /
``context`` are scalars of the request, subtrees that read no variable are folded into
constants by cel-python itself at compile time.

The subset: ``root.field`` (and ``.field`` on a map scalar), ``== != < <= > >=``, ``&&``,
``||``, ``!``, unary ``-``, ``+ - * /``, ``in`` (a list or map scalar), ``?:``, ``size``,
``startsWith``, ``endsWith``, ``contains``, on the kinds of :mod:`.rule_columns`, with
cel-python's exact typing (``double < int`` works, ``int < double`` and ``double == int``
are errors, ``double + double`` is a plain float, ``x / 0.0`` is ``+inf`` for a double...).
A rule with any other construct has no plan (:func:`plan_for` returns None) and runs in the
interpreter as before. At run time, a row the subset cannot decide exactly (a null or
missing field, a division by zero, a factor that is not a number > 0, an unexpected kind) is
*deferred* to the interpreter, which decides it with its usual errors and fail-safes;
operand kinds outside the subset defer the whole rule. So results, errors and error counts
are the interpreter's (``tests/customize/test_rule_vector_differential.py`` checks it).

Sandbox: the plan is built only from the checked tree (names, functions and size limits of
:mod:`.cel_check` already enforced), calls only the NumPy and ``str`` operations listed
here, and is **bounded by construction**: no loops or macros, one pass per node, so an
evaluation costs O(nodes x candidates) with every string read bounded by ``attribute_chars``
(longer ones defer to the interpreter, which fails them with ``limit="attribute"``).
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any

import numpy as np

from tailorcrm.customize.rule_columns import (
    BOOL,
    DOUBLE,
    EXACT_INT,
    FLOAT,
    INT,
    INT64,
    LIST,
    MAP,
    NUM,
    STRING,
    Frame,
    Unsupported,
    Val,
    broadcast,
    object_column,
    scalar,
)

Fn = Callable[[Frame], Val]
_CMP = {"relation_lt": operator.lt, "relation_le": operator.le, "relation_gt": operator.gt,
        "relation_ge": operator.ge, "relation_eq": operator.eq, "relation_ne": operator.ne}
_ARITH = {"addition_add": operator.add, "addition_sub": operator.sub,
          "multiplication_mul": operator.mul}
_STR_METHODS = {"startsWith": str.startswith, "endsWith": str.endswith,
                "contains": lambda s, p: p in s}


def _bools(x: Any) -> Any:
    return x.astype(bool) if isinstance(x, np.ndarray) else bool(x)


def _exact_float(val: Val, frame: Frame) -> Any:
    """An int operand as float64 (exact below 2**53; larger rows deferred)."""
    if not val.is_column:
        if abs(val.data) > EXACT_INT:
            raise Unsupported("integer beyond 2**53")
        return float(val.data)
    big = np.abs(val.data) > EXACT_INT
    frame.defer_rows(_bools(big))
    return np.where(big, 0, val.data).astype(float)


def compare(op: str, a: Val, b: Val, frame: Frame) -> Val:
    ordering = op not in ("relation_eq", "relation_ne")
    same = a.kind == b.kind and a.kind in (BOOL, STRING, INT)
    if (a.kind in NUM and b.kind in NUM) or same:
        x, y = a.data, b.data
    elif ordering and a.kind in NUM and b.kind == INT:  # DoubleType < IntType: Python's
        x, y = a.data, _exact_float(b, frame)
    else:
        raise Unsupported(f"{a.kind} {op} {b.kind}")
    return Val(BOOL, _bools(_CMP[op](x, y)))


def arithmetic(op: str, a: Val, b: Val, frame: Frame) -> Val:
    if a.kind in NUM and b.kind in NUM:
        with np.errstate(all="ignore"):
            if op in _ARITH:  # float.__add__ etc.: a plain float, inf on overflow
                return Val(FLOAT, _ARITH[op](a.data, b.data))
            if op == "multiplication_div":
                zero = _bools(b.data == 0.0)  # DoubleType: +inf; float: an error
                frame.defer_rows(zero)
                divisor = np.where(zero, 1.0, b.data) if isinstance(zero, np.ndarray) \
                    else b.data
                kind = DOUBLE if DOUBLE in (a.kind, b.kind) else FLOAT
                return Val(kind, a.data / divisor)
    if a.kind == b.kind == INT and op in _ARITH:  # Python ints, then the int64 range check
        result = _ARITH[op](a.data, b.data)
        frame.defer_rows(_bools((result < INT64[0]) | (result > INT64[1]))
                         if isinstance(result, np.ndarray)
                         else not INT64[0] <= result <= INT64[1])
        return Val(INT, result)
    raise Unsupported(f"{a.kind} {op} {b.kind}")


def negate(a: Val, frame: Frame) -> Val:
    if a.kind in NUM:
        return Val(a.kind, -a.data)
    if a.kind == INT:
        frame.defer_rows(_bools(a.data == INT64[0]))
        return Val(INT, -a.data)
    raise Unsupported(f"-{a.kind}")


def logical(op: str, a: Val, b: Val) -> Val:
    if a.kind != BOOL or b.kind != BOOL:
        raise Unsupported(f"{a.kind} {op} {b.kind}")  # cel-python passes non-bools through
    fn = np.logical_and if op == "&&" else np.logical_or
    return Val(BOOL, _bools(fn(a.data, b.data)))


def membership(a: Val, b: Val, frame: Frame) -> Val:
    if b.kind == MAP:
        kind, values = (STRING if b.data else None), tuple(b.data)
    elif b.kind == LIST:
        kind, values = b.data
    else:
        raise Unsupported(f"in {b.kind}")
    if kind is None:  # nothing to compare with: false, whatever the left side is
        return Val(BOOL, np.zeros(frame.n, dtype=bool) if a.is_column else False)
    if a.kind in NUM and kind in NUM:
        found = np.isin(a.data, np.array(values, dtype=float))
        return Val(BOOL, found.astype(bool) if a.is_column else bool(found))
    if a.kind != kind or kind not in (BOOL, STRING, INT):
        raise Unsupported(f"{a.kind} in list of {kind}")  # cel-python: errors or ==-quirks
    known = set(values)
    if a.is_column:
        return Val(BOOL, np.fromiter((v in known for v in a.data), dtype=bool, count=frame.n))
    return Val(BOOL, a.data in known)


def size(a: Val, frame: Frame) -> Val:
    if a.kind == STRING:
        if a.is_column:
            return Val(INT, object_column([len(s) for s in a.data]))
        return Val(INT, len(a.data))
    if a.kind in (LIST, MAP):
        return Val(INT, len(a.data[1]) if a.kind == LIST else len(a.data))
    raise Unsupported(f"size({a.kind})")


def string_method(name: str, a: Val, b: Val, frame: Frame) -> Val:
    if a.kind != STRING or b.kind != STRING:
        raise Unsupported(f"{a.kind}.{name}({b.kind})")
    fn = _STR_METHODS[name]
    if not a.is_column and not b.is_column:
        return Val(BOOL, bool(fn(a.data, b.data)))
    left, right = broadcast(a, frame.n), broadcast(b, frame.n)
    return Val(BOOL, np.fromiter((fn(s, p) for s, p in zip(left, right, strict=True)),
                                 dtype=bool, count=frame.n))


def choose(c: Val, a: Val, b: Val, frame: Frame) -> Val:
    if c.kind != BOOL or a.kind != b.kind or a.kind in (LIST, MAP):
        raise Unsupported(f"{c.kind} ? {a.kind} : {b.kind}")
    if not c.is_column:
        return a if c.data else b
    return Val(a.kind, np.where(c.data, broadcast(a, frame.n), broadcast(b, frame.n)))


def member(a: Val, name: str) -> Val:
    if a.kind != MAP or name not in a.data:
        raise Unsupported(f".{name} of {a.kind}")
    return scalar(a.data[name])


def invert(a: Val) -> Val:
    if a.kind != BOOL:
        raise Unsupported(f"!{a.kind}")
    return Val(BOOL, ~a.data if a.is_column else not a.data)
