"""One rule over all candidates at once: the vectorised plan when it applies, else None.

:func:`tailorcrm.customize.rule_engine.apply_rules` calls :func:`vector_decisions` per rule;
rows it returns as deferred (and every row, when it returns None) take the interpreter path,
which decides them exactly as before. The plan runs only when the request's budget clearly
allows it (see :func:`vector_decisions`); otherwise the interpreter path meets the limit
and fails the rows safe with the usual ``limit`` names.
"""

from __future__ import annotations

import time
from typing import NamedTuple

import numpy as np

from tailorcrm.customize.budget import RequestBudget
from tailorcrm.customize.cel import CompiledExpression
from tailorcrm.customize.rule_columns import Frame, Unsupported
from tailorcrm.customize.rule_plan import VectorPlan, plan_for
from tailorcrm.customize.rules import CompiledRule


class Decisions(NamedTuple):
    """Per row of the frame: condition passed, boost factor, and rows left to the
    interpreter (``passed`` and ``factors`` mean nothing there)."""

    passed: np.ndarray
    factors: np.ndarray
    deferred: np.ndarray


def _plans(rule: CompiledRule) -> tuple[VectorPlan | None, VectorPlan | None] | None:
    cond = plan_for(rule.condition) if rule.condition is not None else None
    if rule.condition is not None and cond is None:
        return None
    factor = plan_for(rule.factor) if isinstance(rule.factor, CompiledExpression) else None
    if isinstance(rule.factor, CompiledExpression) and factor is None:
        return None
    return cond, factor


def vector_decisions(rule: CompiledRule, frame: Frame, alive: np.ndarray,
                     budget: RequestBudget, spent: float, budget_seconds: float,
                     ) -> Decisions | None:
    """The rule's decisions for every row, or None to run it per row in the interpreter.

    None when the rule has no plan, when its values fall outside the subset, or when the
    budget does not clearly allow it: the tenant refused, the request past its deadline,
    the rule past ``budget_seconds`` (``spent``), a plan that could reach a per-evaluation
    limit, or fewer steps left than the interpreter could spend on the ``alive`` rows.
    A plan is bounded by construction (no loops: O(nodes x rows)), so time is checked
    before it runs, not inside it.
    """
    if (spent > budget_seconds or budget.refused is not None
            or time.perf_counter() > budget.deadline):
        return None
    plans = _plans(rule)
    if plans is None:
        return None
    cond, factor = plans
    used = [p for p in plans if p is not None]
    if not all(p.fits(budget.limits) for p in used):
        return None
    rows = int(alive.sum())
    steps = sum(p.steps for p in used) * rows
    if steps > budget.steps_left:
        return None
    cpu = time.thread_time()
    n = frame.n
    try:
        if cond is not None:
            values, deferred = cond.run(frame, "bool")
            passed, deferred = values.copy(), deferred.copy()
        else:
            passed, deferred = np.ones(n, dtype=bool), np.zeros(n, dtype=bool)
        if factor is not None:
            factors, not_sure = factor.run(frame, "factor")
            deferred |= passed & not_sure  # the interpreter reads the factor only then
        else:
            constant = rule.factor if isinstance(rule.factor, float) else 1.0
            factors = np.full(n, constant if rule.kind == "boost" else 1.0)
    except (Unsupported, TypeError, ValueError, ArithmeticError):
        # Unsupported: kinds outside the subset. The others would be a NumPy surprise on
        # odd data: the interpreter is the reference, so it decides instead.
        return None
    budget.settle_batch(steps, rows, time.thread_time() - cpu)
    return Decisions(passed, factors, deferred)
