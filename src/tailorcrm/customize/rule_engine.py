"""Running business rules on scored candidates, after scoring and before the top-N cut.

Fail-safe policy when a rule errors at run time for one item (missing field, wrong type):

* a **filter** that errors **excludes** the item by default (``on_error="exclude"``): a filter
  usually guards a business constraint (stock, budget, compliance) and an item we cannot prove
  acceptable is not shown; set ``on_error="keep"`` on a filter where showing is the safe side;
* a **booster** that errors leaves the score unchanged (factor 1).

Every evaluation runs under the cost budget of :mod:`tailorcrm.customize.budget`; a rule
stopped by a limit is an error like any other (and counted apart, ``RuleCounts.budget``).
Every error is counted per rule in :class:`RuleStats` and logged once per rule and call.

Each rule runs vectorised over all candidates when it can (:mod:`.rule_batch`,
:mod:`.rule_plan`; docs/rules.md): rows the plan cannot decide exactly, and rules outside its
subset, run per row in cel-python's interpreter here, with the results, errors and counts
they always had.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple, cast

import numpy as np
from celpy import celtypes

from tailorcrm.customize.budget import RequestBudget
from tailorcrm.customize.cel import CompiledExpression
from tailorcrm.customize.context import RuleContext
from tailorcrm.customize.rule_batch import vector_decisions
from tailorcrm.customize.rule_columns import Frame
from tailorcrm.customize.rule_memo import Evaluator as _Evaluator
from tailorcrm.customize.rule_memo import clear_result_cache
from tailorcrm.customize.rules import CompiledRule, CompiledRuleSet, RuleSet
from tailorcrm.recommend.reasons import Reason, ReasonKind

__all__ = ["Candidate", "RuleCounts", "RuleStats", "apply_rules", "clear_result_cache",
           "rule_reason"]

log = logging.getLogger(__name__)


class Candidate(NamedTuple):
    """One scored item on its way to the top-N."""

    item_id: str
    score: float
    reasons: tuple[Reason, ...] = ()


@dataclass
class RuleCounts:
    """What one rule did during one call."""

    evaluated: int = 0
    errors: int = 0
    excluded: int = 0
    boosted: int = 0
    budget: int = 0
    seconds: float = 0.0
    first_error: str | None = None


@dataclass
class RuleStats:
    """Per-rule counts of one :func:`apply_rules` call (pass one in to read them)."""

    rules: dict[str, RuleCounts] = field(default_factory=dict)

    def of(self, name: str) -> RuleCounts:
        return self.rules.setdefault(name, RuleCounts())

    @property
    def errors(self) -> int:
        return sum(c.errors for c in self.rules.values())


def rule_reason(label: str, weight: float, ref: str) -> Reason:
    """A ``rule`` reason (the kind is not in ``ReasonKind`` yet; see docs/customization.md)."""
    return Reason(cast(ReasonKind, "rule"), label, weight, ref)


def _as_number(value: Any) -> float | None:
    # cel-python arithmetic may hand back plain floats; bools are ints but not numbers here.
    if isinstance(value, bool | celtypes.BoolType) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) and number > 0 else None


def apply_rules(candidates: Iterable[Candidate | tuple[str, float, Sequence[Reason]]],
                items: Mapping[str, Mapping[str, Any]], ctx: RuleContext,
                ruleset: RuleSet | CompiledRuleSet, *, stats: RuleStats | None = None,
                budget_seconds: float = 2.0, budget: RequestBudget | None = None,
                ) -> list[Candidate]:
    """Filter and boost ``candidates``; the result is sorted by the new score (stable).

    The item fields rules read are taken as columns over ``candidates`` (once per request
    and field) and each rule runs as a vectorised plan where it can; everything else runs
    per item in the interpreter, so results are the same as item-by-item evaluation.

    Parameters
    ----------
    candidates:
        ``(item_id, score, reasons)`` triples, typically the scored pool before top-N.
    items:
        ``item_id`` → item view (see :func:`tailorcrm.customize.context.item_views`); an
        item missing here is seen as ``{"item_id": id}`` (its field reads then fail safe).
    ctx:
        The customer, needs, segments and request context.
    ruleset:
        The rules (compiled once per content hash).
    stats:
        Filled with per-rule counts when given.
    budget_seconds:
        Run-time guard per rule and call: once a rule has spent this long, its remaining
        evaluations count as errors (fail-safe) instead of running.
    budget:
        The request's budget over all evaluations (steps, deadline, tenant limits); by
        default only the per-evaluation limits of :class:`RuleLimits` apply (offline
        precomputation runs many items per call).
    """
    budget = budget if budget is not None else RequestBudget.unbounded()
    started = time.perf_counter()
    compiled = ruleset.compile() if isinstance(ruleset, RuleSet) else ruleset
    budget.exclude(time.perf_counter() - started)
    stats = stats if stats is not None else RuleStats()
    limits = budget.limits
    variables = ctx.variables(limits)
    pool = [Candidate(c[0], float(c[1]), tuple(c[2])) for c in candidates]
    rows = [items.get(c.item_id) or {"item_id": c.item_id} for c in pool]
    frame = Frame(rows, variables, limits)
    alive = np.ones(len(pool), dtype=bool)
    for rule in compiled.rules:
        _apply_rule(rule, stats.of(rule.name), pool, rows, alive, frame, variables, budget,
                    budget_seconds)
    return sorted((pool[i] for i in np.flatnonzero(alive)), key=lambda c: -c.score)


def _apply_rule(rule: CompiledRule, counts: RuleCounts, pool: list[Candidate],
                rows: Sequence[Mapping[str, Any]], alive: np.ndarray, frame: Frame,
                variables: Mapping[str, Any], budget: RequestBudget,
                budget_seconds: float) -> None:
    """One rule on the ``alive`` rows: vectorised where it can be, per row elsewhere.

    Updates ``pool`` (boosted candidates), ``alive`` (filtered out) and ``counts`` in place.
    """
    start = time.perf_counter()
    fast = vector_decisions(rule, frame, alive, budget, counts.seconds, budget_seconds)
    counts.seconds += time.perf_counter() - start
    index = np.flatnonzero(alive)
    if fast is not None:
        quick = index[~fast.deferred[index]]
        index = index[fast.deferred[index]]
        counts.evaluated += len(quick)
        if rule.kind == "filter":
            dropped = quick[~fast.passed[quick]]
            alive[dropped] = False
            counts.excluded += len(dropped)
        else:
            up = quick[fast.passed[quick] & (fast.factors[quick] != 1.0)]
            for i in up.tolist():
                pool[i] = _boost(pool[i], float(fast.factors[i]), rule.name)
            counts.boosted += len(up)
    if not len(index):
        return
    limits = budget.limits
    cond = (_Evaluator(rule.condition, variables, limits)
            if rule.condition is not None else None)
    factor_eval = (_Evaluator(rule.factor, variables, limits)
                   if isinstance(rule.factor, CompiledExpression) else None)
    for i in index.tolist():
        cand = pool[i]
        error: str | None
        limit: str | None = None
        if counts.seconds > budget_seconds:
            ok, passed, factor, limit = False, False, None, "rule_time"
            error = f"rule exceeded its {budget_seconds:g} s budget"
        else:
            start = time.perf_counter()
            ok, passed, factor, error, limit = _decide(rule, cond, factor_eval, rows[i],
                                                       budget)
            counts.seconds += time.perf_counter() - start
        counts.evaluated += 1
        if not ok:
            counts.errors += 1
            counts.budget += limit is not None
            if counts.first_error is None:
                counts.first_error = error
                budget.report(rule.name, "budget" if limit else "eval", limit,
                              error or "error")
                log.warning("rule %r failed for item %s (fail-safe applied): %s",
                            rule.name, cand.item_id, error)
            if rule.kind == "filter" and rule.on_error == "exclude":
                counts.excluded += 1
                alive[i] = False
        elif rule.kind == "filter" and not passed:
            counts.excluded += 1
            alive[i] = False
        elif rule.kind == "boost" and passed and factor is not None and factor != 1.0:
            counts.boosted += 1
            pool[i] = _boost(cand, factor, rule.name)


def _decide(rule: CompiledRule, cond: _Evaluator | None, factor_eval: _Evaluator | None,
            item: Mapping[str, Any], budget: RequestBudget,
            ) -> tuple[bool, bool, float | None, str | None, str | None]:
    """``(ok, condition passed, boost factor, error, budget limit hit)`` of one rule and
    one item."""
    ok, value, limit = (cond(item, budget) if cond is not None
                        else (True, celtypes.BoolType(True), None))
    if not ok:
        return False, False, None, str(value), limit
    if not isinstance(value, celtypes.BoolType):
        return False, False, None, f"expected a bool, got {type(value).__name__}", None
    if rule.kind == "filter" or not bool(value):
        return True, bool(value), None, None, None
    if factor_eval is None:
        return True, True, float(cast(float, rule.factor)), None, None
    ok, raw, limit = factor_eval(item, budget)
    if not ok:
        return False, False, None, str(raw), limit
    factor = _as_number(raw)
    if factor is None:
        return False, False, None, f"factor is not a number > 0: {raw!r}", None
    return True, True, factor, None, None


def _boost(cand: Candidate, factor: float, name: str) -> Candidate:
    """Scale the score (away from zero for negative scores) and explain it.

    Existing reason weights are scaled by 1/factor and the rule takes the rest, so the
    weights still sum to what they did (for demotions the rule reason weighs 0).
    """
    score = cand.score * factor if cand.score >= 0 else cand.score / factor
    verb = "boosted" if factor > 1 else "demoted"
    if factor > 1:
        share = 1 - 1 / factor
        reasons = tuple(Reason(r.kind, r.label, r.weight / factor, r.ref) for r in cand.reasons)
    else:
        share, reasons = 0.0, cand.reasons
    label = f"{verb} ×{factor:g} by rule '{name}'"
    return Candidate(cand.item_id, score, (*reasons, rule_reason(label, share, name)))

