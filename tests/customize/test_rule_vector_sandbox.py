"""The vectorised rule path keeps the sandbox: no side effects, checked names, every limit.

Each limit is checked by which limit fired, with the vectorised path on and off (off: every
rule per row in cel-python, the reference): same kept items, same counts, same limits.
"""

from __future__ import annotations

import copy
import os
from typing import Any

import pytest

from tailorcrm.customize import rule_engine
from tailorcrm.customize.budget import RequestBudget, RuleLimits
from tailorcrm.customize.cel import compile_expression
from tailorcrm.customize.context import RuleContext
from tailorcrm.customize.rule_columns import Frame
from tailorcrm.customize.rule_engine import Candidate, RuleStats, apply_rules, clear_result_cache
from tailorcrm.customize.rule_plan import plan_for
from tailorcrm.customize.rules import BoostRule, FilterRule, RuleSet, validate_ruleset
from tailorcrm.errors import RuleError

NO_CLOCK = RuleLimits(eval_ms=600_000, request_ms=600_000)
ITEMS = {f"i{k}": {"item_id": f"i{k}", "price": float(k * 10), "available": k % 3 != 0,
                   "category": f"c{k % 4}", "brand": f"b{k % 5}", "title": "t" * k}
         for k in range(12)}
CANDS = [Candidate(i, 1.0 - k / 100) for k, i in enumerate(ITEMS)]
CTX = RuleContext(customer={"budget": 75.0, "preferred": ["c1", "c2"]}, needs={"up": 0.5})
BENCH = RuleSet(filters=(FilterRule(name="budget",
                                    expression="item.available && item.price <= "
                                               "customer.budget"),),
                boosters=(BoostRule(name="pref", when="item.category in customer.preferred",
                                    factor=2.0),
                          BoostRule(name="brand", when="item.brand in ['b1', 'b2']",
                                    factor="needs.up + 1.0")))


def outcome(ruleset: RuleSet, budget: RequestBudget | None, vectorised: bool,
            ctx: RuleContext = CTX) -> tuple[Any, Any, Any]:
    clear_result_cache()
    with pytest.MonkeyPatch.context() as patch:
        if not vectorised:
            patch.setattr(rule_engine, "vector_decisions", lambda *a, **k: None)
        stats = RuleStats()
        out = apply_rules(CANDS, ITEMS, ctx, ruleset, stats=stats, budget=budget)
    counts = {n: (c.evaluated, c.errors, c.excluded, c.boosted, c.budget)
              for n, c in stats.rules.items()}
    limits = sorted({(f.name, f.limit) for f in budget.failures}) if budget else None
    return [(c.item_id, c.score) for c in out], counts, limits


def test_the_served_rules_are_vectorised_without_deferring_clean_rows() -> None:
    compiled = BENCH.compile()
    frame = Frame([ITEMS[c.item_id] for c in CANDS], CTX.variables(NO_CLOCK), NO_CLOCK)
    for rule in compiled.rules:
        plan = plan_for(rule.condition) if rule.condition is not None else None
        assert plan is not None, rule.name
        _, deferred = plan.run(frame, "bool")
        assert not deferred.any(), rule.name
    assert outcome(BENCH, None, True) == outcome(BENCH, None, False)


def test_no_side_effects_on_items_context_or_files() -> None:
    items, ctx = copy.deepcopy(ITEMS), copy.deepcopy(CTX)
    before = set(os.listdir("."))
    apply_rules(CANDS, ITEMS, CTX, BENCH)
    assert items == ITEMS and ctx == CTX and set(os.listdir(".")) == before


@pytest.mark.parametrize(("source", "reason"), [
    ("costumer.budget > 1.0", "unknown_name"),
    ("item.__class__ == 1", "forbidden"),
    ("eval('1') == 1", "unknown_function"),
    ("item.title.format('x')", "unknown_function"),
])
def test_unchecked_names_are_refused_at_compile_before_any_plan(source: str,
                                                                reason: str) -> None:
    with pytest.raises(RuleError) as info:
        validate_ruleset({"filters": [{"name": "bad", "expression": source}]})
    assert info.value.details["reason"] == reason


def test_constructs_outside_the_subset_have_no_plan_and_run_in_the_interpreter() -> None:
    for source in ("item.categories.exists(c, c == 'a')", "has(item.color)",
                   "item['price'] > 1.0", "int(item.price) % 2 == 0",
                   "item.title.matches('^t')", "string(item.price) == '1'"):
        assert plan_for(compile_expression(source)) is None, source


@pytest.mark.parametrize(("limits", "expected"), [
    (RuleLimits(eval_ms=600_000, request_ms=600_000, eval_steps=3), "eval_steps"),
    (RuleLimits(eval_ms=600_000, request_ms=600_000, request_steps=60), "request_steps"),
    # cel-python builds a list literal inside ``primary``, so it is not charged: no limit
    # fires in either path (the plan charges what the interpreter's meter sees).
    (RuleLimits(eval_ms=600_000, request_ms=600_000, eval_alloc=1), None),
    (RuleLimits(eval_ms=600_000, request_ms=600_000, max_list=1), None),
    (RuleLimits(eval_ms=600_000, request_ms=600_000, attribute_chars=5), "attribute"),
])
def test_every_limit_fires_as_in_the_interpreter(limits: RuleLimits,
                                                 expected: str | None) -> None:
    rules = RuleSet(filters=(FilterRule(name="t", expression="size(item.title) < 9 && "
                                        "item.brand in ['b1', 'b2', 'b3']"),))
    fast = outcome(rules, RequestBudget(limits), True)
    assert fast == outcome(rules, RequestBudget(limits), False)
    assert fast[2] == ([("t", expected)] if expected else [])


def test_a_refused_or_late_request_fails_every_rule_safe() -> None:
    refused = RequestBudget(NO_CLOCK)
    refused.refused = "tenant_throttled"
    late = RequestBudget(NO_CLOCK, deadline=1.0)  # long past
    for budget, limit in ((refused, "tenant_throttled"), (late, "request_time")):
        out, counts, limits = outcome(BENCH, budget, True)
        assert [i for i, _ in out] == []  # the filter excludes what it cannot prove
        assert counts["budget"][4] == len(CANDS)
        assert ("budget", limit) in limits


def test_the_rule_time_guard_still_applies() -> None:
    stats = RuleStats()
    apply_rules(CANDS, ITEMS, CTX, BENCH, stats=stats, budget_seconds=-1.0)
    assert stats.of("budget").errors == len(CANDS)
    assert "budget" in (stats.of("budget").first_error or "")


def test_no_candidates_and_no_rules_are_fine() -> None:
    assert apply_rules([], ITEMS, CTX, BENCH) == []
    assert [c.item_id for c in apply_rules(CANDS[:2], ITEMS, CTX, RuleSet())] == ["i0", "i1"]


def test_memoised_results_tell_a_bool_from_a_number() -> None:
    # True == 1.0 as a dict key: the interpreter's memo once gave 1.0 the result of True.
    items = {"t": {"item_id": "t", "b": True}, "n": {"item_id": "n", "b": 1.0}}
    rules = RuleSet(filters=(FilterRule(name="b", expression="item.b"),))
    for vectorised in (True, False):
        clear_result_cache()
        with pytest.MonkeyPatch.context() as patch:
            if not vectorised:
                patch.setattr(rule_engine, "vector_decisions", lambda *a, **k: None)
            stats = RuleStats()
            out = apply_rules([Candidate("t", 1.0), Candidate("n", 0.5)], items, CTX, rules,
                              stats=stats)
        assert [c.item_id for c in out] == ["t"]
        assert stats.of("b").errors == 1  # 1.0 is no bool: fail-safe exclusion
