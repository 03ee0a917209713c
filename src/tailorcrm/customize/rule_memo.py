"""Memoised interpreter evaluation of one rule expression over many items.

The per-row path of :func:`tailorcrm.customize.rule_engine.apply_rules`: cel-python under the
cost budget, with results memoised by the values of the fields the expression reads.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from tailorcrm.customize.budget import DEFAULT_RULE_LIMITS, RequestBudget, RuleLimits
from tailorcrm.customize.cel import CompiledExpression, to_cel
from tailorcrm.customize.context import bounded_fields
from tailorcrm.errors import RuleError


def _freeze(value: Any) -> Any:
    # True == 1 == 1.0 and 0.0 == -0.0 as dict keys, but not for a rule (a bool is no number;
    # string(-0.0) is '-0.0'): such values get keys of their own.
    if isinstance(value, bool | np.bool_):
        return (bool, bool(value))
    if isinstance(value, float) and value == 0.0:
        return (float, math.copysign(1.0, value))
    if isinstance(value, list | tuple):
        return tuple(_freeze(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((str(k), _freeze(v)) for k, v in value.items()))
    if isinstance(value, set | frozenset):
        return tuple(sorted(map(str, value)))
    try:
        hash(value)
    except TypeError:
        return repr(value)
    return value


_MISSING = object()
_Outcome = tuple[bool, Any, str | None]  # (ok, value-or-error message, budget limit hit)
# Limits whose outcome depends on the data only (not on time or what the request spent):
# such failures are memoised like results, so a costly rule fails fast the next time.
_DETERMINISTIC = frozenset({None, "eval_steps", "size", "alloc", "attribute"})


_MEMO: dict[str, dict[Any, _Outcome]] = {}
_MEMO_EXPRESSIONS = 1024
_MEMO_ENTRIES = 50_000


def clear_result_cache() -> None:
    """Forget memoised rule results (benchmarks measure the cold path with it)."""
    _MEMO.clear()


def _project(value: Any, fields: frozenset[str] | None) -> Any:
    """Only the fields an expression reads (all of ``value`` when it reads it whole)."""
    if fields is None or not isinstance(value, Mapping):
        return value
    return {f: value[f] for f in sorted(fields) if f in value}


def _memo_for(expr: CompiledExpression) -> dict[Any, _Outcome]:
    if len(_MEMO) > _MEMO_EXPRESSIONS:
        _MEMO.clear()
    memo = _MEMO.setdefault(expr.source, {})
    if len(memo) > _MEMO_ENTRIES:
        memo.clear()
    return memo


class Evaluator:
    """Evaluates one compiled expression over many items.

    A result depends only on the values of the fields the expression reads, so results are
    memoised by those values (item fields and customer / needs / segments / context fields)
    in a bounded per-process cache: a combination seen before, in this request or an earlier
    one, is not evaluated again. Evaluation is deterministic and side-effect free, so this
    changes nothing but the time.
    """

    def __init__(self, expr: CompiledExpression, variables: Mapping[str, Any],
                 limits: RuleLimits = DEFAULT_RULE_LIMITS) -> None:
        self.expr = expr
        self.limits = limits
        projected = {r: _project(variables.get(r), expr.fields.get(r))
                     for r in sorted(expr.roots - {"item"})}
        self.base = {r: to_cel(v) for r, v in projected.items()}
        self.base_key = (_freeze(projected), hash(limits))
        self.memo = _memo_for(expr)

    def __call__(self, item: Mapping[str, Any], budget: RequestBudget) -> _Outcome:
        fields = self.expr.item_fields
        if fields is None:
            item_key: Any = _freeze(dict(item))
        else:
            item_key = tuple(_freeze(item[f]) if f in item else _MISSING
                             for f in sorted(fields))
        key = (self.base_key, item_key)
        found = self.memo.get(key)
        if found is not None:
            return found
        activation = dict(self.base)
        if "item" in self.expr.roots:
            viewed = _project(dict(item), fields)
            activation["item"] = to_cel(bounded_fields(viewed, self.limits, "item.")
                                        if isinstance(viewed, Mapping) else viewed)
        try:
            outcome: _Outcome = (True, self.expr.evaluate(activation, budget), None)
        except RuleError as exc:
            over = exc.details.get("reason") == "budget"
            outcome = (False, exc.message, exc.details.get("limit", "budget") if over else None)
        if outcome[2] in _DETERMINISTIC:
            self.memo[key] = outcome
        return outcome
