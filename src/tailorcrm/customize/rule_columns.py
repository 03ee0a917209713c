"""Typed columns of rule values for vectorised evaluation (:mod:`tailorcrm.customize.rule_vector`).

A :class:`Val` is one CEL-typed value for every candidate at once: a NumPy column (item fields
and what is computed from them) or a scalar (customer, needs, segments and context fields,
literals). Kinds follow what :func:`tailorcrm.customize.cel.to_cel` and cel-python would make:

* ``bool`` (``BoolType``), ``double`` (``DoubleType``: every number read from data),
  ``float`` (a plain Python float: what cel-python's ``+ - *`` on doubles return, which
  compares differently from ``DoubleType``), ``int`` (``IntType``: int literals, ``size()``),
  ``string``; and, as scalars only, ``list`` (homogeneous elements) and ``map``.

Anything else is not represented: a cell of another kind (null, missing, NaN, a list, a map,
a date, a string longer than ``attribute_chars``, an integer beyond 2**53) *defers* its row
to the interpreter, which then decides the row exactly as it always did (error, fail-safe,
budget failure included); a scalar of another kind raises :class:`Unsupported` and the whole
rule runs in the interpreter. Deferring is never wrong, only slower.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from tailorcrm.customize.budget import RuleLimits

BOOL, DOUBLE, FLOAT, INT, STRING, LIST, MAP = ("bool", "double", "float", "int", "string",
                                               "list", "map")
NUM = frozenset({DOUBLE, FLOAT})
EXACT_INT = 2**53
"""Integers read from data become doubles; beyond this, conversions may round: deferred."""
INT64 = (-(2**63), 2**63 - 1)

_WHOLE = "whole"  # a Python int: a double when |v| <= 2**53 (checked per cell)
_TYPE_KIND: dict[type, str] = {
    bool: BOOL, np.bool_: BOOL, float: DOUBLE, np.float64: DOUBLE, np.float32: DOUBLE,
    np.float16: DOUBLE, int: _WHOLE, np.int64: DOUBLE, np.int32: DOUBLE, np.int16: DOUBLE,
    np.int8: DOUBLE, np.uint32: DOUBLE, np.uint16: DOUBLE, np.uint8: DOUBLE, str: STRING}
_MISSING = object()


class Unsupported(Exception):  # noqa: N818 - a routing signal, not an error
    """These values are outside the vectorised subset: the rule runs in the interpreter."""


@dataclass(frozen=True, slots=True)
class Val:
    """One CEL-typed value for all rows: ``data`` is a column (``np.ndarray`` of length n:
    float64 for numbers, bool, object for strings and ints) or a scalar. ``list`` data is
    ``(element kind or None when empty, elements)``; ``map`` data a plain dict."""

    kind: str
    data: Any

    @property
    def is_column(self) -> bool:
        return isinstance(self.data, np.ndarray)


def object_column(values: Sequence[Any]) -> np.ndarray:
    """An object array of ``values`` (``np.array`` would guess a string or nested dtype)."""
    out = np.empty(len(values), dtype=object)
    out[:] = list(values)
    return out


def broadcast(val: Val, n: int) -> np.ndarray:
    """``val`` as a column of length ``n`` with its kind's dtype."""
    if val.is_column:
        return val.data  # type: ignore[no-any-return]
    if val.kind in NUM:
        return np.full(n, float(val.data))
    if val.kind == BOOL:
        return np.full(n, bool(val.data))
    return object_column([val.data] * n)


def scalar(value: Any) -> Val:
    """The :class:`Val` of one plain value, as :func:`~tailorcrm.customize.cel.to_cel`
    converts it; raises :class:`Unsupported` for kinds outside the subset."""
    kind = _TYPE_KIND.get(type(value))
    if kind == BOOL:
        return Val(BOOL, bool(value))
    if kind in (DOUBLE, _WHOLE):
        if kind == _WHOLE and abs(value) > EXACT_INT:
            raise Unsupported("integer beyond 2**53")
        number = float(value)
        if math.isnan(number):  # null in CEL
            raise Unsupported("null")
        return Val(DOUBLE, number)
    if kind == STRING:
        return Val(STRING, value)
    if isinstance(value, Mapping):
        return Val(MAP, {str(k): v for k, v in value.items()})
    if isinstance(value, list | tuple | set | frozenset | np.ndarray):
        elements = [scalar(v) for v in value]
        kinds = {e.kind for e in elements}
        if len(kinds) > 1 or kinds & {LIST, MAP}:
            raise Unsupported("mixed or nested list")
        return Val(LIST, (next(iter(kinds), None), tuple(e.data for e in elements)))
    raise Unsupported(f"a {type(value).__name__} value")


class Frame:
    """One request's candidates for vectorised rules: item fields as columns (built once per
    field and request, shared by every rule), the other variables as scalars.

    ``defer`` collects, during one expression's evaluation, the rows it cannot decide.
    """

    def __init__(self, rows: Sequence[Mapping[str, Any]], variables: Mapping[str, Any],
                 limits: RuleLimits) -> None:
        self.rows = rows
        self.n = len(rows)
        self.variables = variables
        self.max_chars = limits.attribute_chars
        self.defer = np.zeros(self.n, dtype=bool)
        self._columns: dict[str, tuple[Val, np.ndarray]] = {}

    def begin(self) -> None:
        """Start an expression: no row deferred yet."""
        self.defer = np.zeros(self.n, dtype=bool)

    def defer_rows(self, mask: Any) -> None:
        """Defer the rows where ``mask`` holds (a scalar True defers the whole rule)."""
        if isinstance(mask, np.ndarray):
            self.defer |= mask
        elif mask:
            raise Unsupported("every row")

    def item_field(self, name: str) -> Val:
        """The column of ``item.<name>``; rows whose cell is outside the subset deferred."""
        found = self._columns.get(name)
        if found is None:
            found = self._columns[name] = self._build(name)
        self.defer |= found[1]
        return found[0]

    def field(self, root: str, name: str) -> Val:
        """The scalar ``<root>.<name>`` of a non-item variable."""
        view = self.variables.get(root)
        if not isinstance(view, Mapping) or name not in view:
            raise Unsupported(f"{root}.{name} is missing")  # the interpreter reports it
        return scalar(view[name])

    def _build(self, name: str) -> tuple[Val, np.ndarray]:
        values = [row.get(name, _MISSING) for row in self.rows]
        kinds = [_TYPE_KIND.get(type(v)) for v in values]
        counts = Counter(DOUBLE if k == _WHOLE else k for k in kinds if k is not None)
        if not counts:
            return Val(DOUBLE, np.zeros(self.n)), np.ones(self.n, dtype=bool)
        kind = counts.most_common(1)[0][0]
        if kind == DOUBLE:
            cells = [float(v) if k == DOUBLE or (k == _WHOLE and abs(v) <= EXACT_INT)
                     else math.nan for v, k in zip(values, kinds, strict=True)]
            data: np.ndarray = np.array(cells, dtype=float)
            return Val(DOUBLE, data), np.isnan(data)  # NaN: null, or not a number
        defer = np.fromiter((k != kind for k in kinds), dtype=bool, count=self.n)
        if kind == BOOL:
            data = np.fromiter((bool(v) if k == BOOL else False
                                for v, k in zip(values, kinds, strict=True)),
                               dtype=bool, count=self.n)
            return Val(BOOL, data), defer
        texts: list[str] = [v if k == STRING else "" for v, k in
                            zip(values, kinds, strict=True)]
        # an attribute too large for rules fails the row with limit="attribute" (interpreter)
        defer |= np.fromiter((len(c) > self.max_chars for c in texts), dtype=bool,
                             count=self.n)
        return Val(STRING, object_column(texts)), defer
