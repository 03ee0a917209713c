"""Business rules on hand-made candidates: filters, boosts, reasons, validation, overrides."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from tailorcrm.customize.context import RuleContext, item_views
from tailorcrm.customize.rule_engine import Candidate, RuleStats, apply_rules
from tailorcrm.customize.rules import (
    BoostRule,
    FilterRule,
    RuleSet,
    effective_ruleset,
    validate_ruleset,
)
from tailorcrm.errors import RuleError

ITEMS = {
    "tent": {"item_id": "tent", "price": 120.0, "available": True, "category": "outdoor",
             "categories": ["outdoor"], "brand": "acme"},
    "stove": {"item_id": "stove", "price": 60.0, "available": True, "category": "outdoor",
              "categories": ["outdoor", "kitchen"], "brand": "zen"},
    "pan": {"item_id": "pan", "price": 30.0, "available": True, "category": "kitchen",
            "categories": ["kitchen"], "brand": "zen"},
    "lamp": {"item_id": "lamp", "price": 20.0, "available": False, "category": "home",
             "categories": ["home"], "brand": "acme"},
    "sofa": {"item_id": "sofa", "price": 900.0, "available": True, "category": "home",
             "categories": ["home"], "brand": "acme"},
}
CANDIDATES = [Candidate("tent", 0.9), Candidate("sofa", 0.8), Candidate("lamp", 0.7),
              Candidate("pan", 0.6), Candidate("stove", 0.5)]
CTX = RuleContext(customer={"budget": 200, "preferred_categories": ["kitchen"]},
                  needs={"upgrade": 0.5})

BUDGET = FilterRule(name="budget", expression="item.available && item.price <= customer.budget")
PREFERRED = BoostRule(name="preferred-category",
                      when="item.category in customer.preferred_categories", factor=2.0)


def test_filter_drops_exactly_the_items_that_break_it() -> None:
    out = apply_rules(CANDIDATES, ITEMS, CTX, RuleSet(filters=(BUDGET,)))
    assert [c.item_id for c in out] == ["tent", "pan", "stove"]  # lamp unavailable, sofa > 200


def test_boost_reorders_and_explains() -> None:
    stats = RuleStats()
    out = apply_rules(CANDIDATES, ITEMS, CTX, RuleSet(filters=(BUDGET,), boosters=(PREFERRED,)),
                      stats=stats)
    assert [c.item_id for c in out] == ["pan", "tent", "stove"]
    assert out[0].score == pytest.approx(1.2)
    labels = [r.label for r in out[0].reasons]
    assert labels == ["boosted ×2 by rule 'preferred-category'"]
    assert out[1].reasons == ()
    assert stats.of("preferred-category").boosted == 1
    assert stats.of("budget").excluded == 2


def test_boost_keeps_reason_weights_summing_to_one() -> None:
    from tailorcrm.recommend.reasons import Reason

    cand = Candidate("pan", 0.6, (Reason("popular", "popular", 1.0, "global"),))
    out = apply_rules([cand], ITEMS, CTX, RuleSet(boosters=(PREFERRED,)))
    assert sum(r.weight for r in out[0].reasons) == pytest.approx(1.0)
    assert out[0].reasons[-1].weight == pytest.approx(0.5)


def test_factor_expression_uses_needs_and_lists() -> None:
    rule = BoostRule(name="upgrade", when="item.categories.exists(c, c == 'kitchen')",
                     factor="needs.upgrade * 4.0 + 1.0")
    out = apply_rules(CANDIDATES, ITEMS, CTX, RuleSet(boosters=(rule,)))
    scores = {c.item_id: c.score for c in out}
    assert scores["pan"] == pytest.approx(1.8) and scores["stove"] == pytest.approx(1.5)
    assert scores["tent"] == pytest.approx(0.9)


def test_context_variable_and_segment_are_visible() -> None:
    ctx = RuleContext(customer={"segment": "vip"}, segments={"rfm": "champions"},
                      context={"channel": "email"})
    rules = RuleSet(filters=(FilterRule(
        name="email-cheap", expression="context.channel != 'email' || item.price < 100.0"),),
        boosters=(BoostRule(name="champ", when="segments.rfm == 'champions' && "
                            "customer.segment == 'vip' && item.brand == 'acme'", factor=3.0),))
    out = apply_rules(CANDIDATES, ITEMS, ctx, rules)
    assert [c.item_id for c in out] == ["lamp", "pan", "stove"]
    assert out[0].score == pytest.approx(2.1)


def test_negative_scores_move_up_when_boosted() -> None:
    out = apply_rules([Candidate("pan", -1.0), Candidate("tent", -0.8)], ITEMS, CTX,
                      RuleSet(boosters=(PREFERRED,)))
    assert [c.item_id for c in out] == ["pan", "tent"]


def test_errors_in_booster_leave_score_unchanged() -> None:
    rule = BoostRule(name="broken", when="item.nope > 1.0", factor=5.0)
    stats = RuleStats()
    out = apply_rules(CANDIDATES, ITEMS, CTX, RuleSet(boosters=(rule,)), stats=stats)
    assert [c.score for c in out] == [0.9, 0.8, 0.7, 0.6, 0.5]
    assert stats.of("broken").errors == 5


def test_item_unknown_to_catalog_fails_safe() -> None:
    out = apply_rules([Candidate("ghost", 1.0), *CANDIDATES], ITEMS, CTX,
                      RuleSet(filters=(BUDGET,)))
    assert "ghost" not in [c.item_id for c in out]


def test_validation_error_has_position_and_rule_name() -> None:
    with pytest.raises(RuleError) as info:
        validate_ruleset({"filters": [{"name": "ok", "expression": "item.available"},
                                      {"name": "bad", "expression": "item.price <=\n  (1.0"}]})
    err = info.value
    assert err.details["rule"] == "bad" and err.details["part"] == "expression"
    assert (err.details["line"], err.details["column"]) == (2, 7)
    assert "filter 'bad'" in err.message and "line 2, column 7" in err.message


def test_unknown_names_are_found_when_saving_not_when_running() -> None:
    with pytest.raises(RuleError) as info:
        validate_ruleset({"boosters": [{"name": "b", "when": "costumer.vip", "factor": 2.0}]})
    assert info.value.details["reason"] == "unknown_name"
    assert info.value.details["column"] == 1


def test_ruleset_schema_is_strict() -> None:
    with pytest.raises(ValidationError):
        RuleSet.model_validate({"filters": [], "boost": []})
    with pytest.raises(ValidationError):
        BoostRule(name="x", when="true", factor=0.0)
    with pytest.raises(ValidationError):
        RuleSet(filters=(BUDGET, BUDGET))
    with pytest.raises(ValidationError):
        FilterRule(name="has space", expression="true")


def test_compiled_once_per_content() -> None:
    a = RuleSet(filters=(BUDGET,))
    b = RuleSet.model_validate_json(a.model_dump_json())
    assert a.content_hash == b.content_hash
    assert a.compile() is b.compile()


def test_override_replace_and_merge() -> None:
    stored = RuleSet(filters=(BUDGET,), boosters=(PREFERRED,))
    loose = FilterRule(name="budget", expression="item.available")
    override = RuleSet(filters=(loose,))
    assert effective_ruleset(stored, None) == stored
    assert effective_ruleset(stored, override) == override
    merged = effective_ruleset(stored, override, mode="merge")
    assert merged.filters == (loose,) and merged.boosters == (PREFERRED,)
    out = apply_rules(CANDIDATES, ITEMS, CTX, merged)
    assert "sofa" in [c.item_id for c in out] and "lamp" not in [c.item_id for c in out]


def test_item_views_from_dataset_frame() -> None:
    import numpy as np
    import pandas as pd

    frame = pd.DataFrame({"title": ["Tent", "Pan"], "categories": [["outdoor"], []],
                          "price": [99.0, np.nan], "available": [True, False],
                          "color": ["green", None]}, index=pd.Index(["t", "p"], name="item_id"))
    views = item_views(frame)
    assert views["t"]["category"] == "outdoor" and views["p"]["category"] is None
    assert views["p"]["price"] is None and views["t"]["color"] == "green"
    out = apply_rules([Candidate("t", 1.0), Candidate("p", 2.0)], views, CTX,
                      RuleSet(filters=(BUDGET,)))
    assert [c.item_id for c in out] == ["t"]


def test_memoised_results_never_leak_between_customers() -> None:
    rules = RuleSet(filters=(BUDGET,), boosters=(PREFERRED,))
    rich = RuleContext(customer={"budget": 1000, "preferred_categories": ["home"]})
    poor = RuleContext(customer={"budget": 50, "preferred_categories": []})
    for _ in range(2):  # the second round is served from the result cache
        assert [c.item_id for c in apply_rules(CANDIDATES, ITEMS, rich, rules)] == [
            "sofa", "tent", "pan", "stove"]
        assert [c.item_id for c in apply_rules(CANDIDATES, ITEMS, poor, rules)] == ["pan"]
