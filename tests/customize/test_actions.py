"""Next-best-action catalog: eligibility, ranking, reasons, linked items, validation."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from tailorcrm.customize.actions import Action, ActionCatalog, rank_actions
from tailorcrm.customize.context import RuleContext
from tailorcrm.errors import RuleError

CATALOG = ActionCatalog.model_validate({"actions": [
    {"name": "retention-call", "kind": "service", "channel": "phone", "priority": 10,
     "eligibility": 'needs.churn > 0.6 && customer.contract == "month-to-month"',
     "value": "needs.churn * 120.0"},
    {"name": "upgrade-offer", "kind": "offer", "channel": "email", "priority": 5,
     "eligibility": "needs.upgrade > 0.5", "value": 40.0,
     "linked_categories": ["phones"], "strategy": "cross-sell", "max_linked": 2},
    {"name": "vip-campaign", "kind": "campaign", "priority": 5, "value": 10.0,
     "eligibility": "segments.rfm == 'champions'", "linked_items": ["gift", "gone"]},
    {"name": "everyone", "priority": 0, "eligibility": "true"},
    {"name": "disabled", "priority": 99, "eligibility": "true", "enabled": False},
]})
ITEMS = {"p1": {"title": "Phone X", "categories": ["phones"], "available": True},
         "c1": {"title": "Case", "categories": ["accessories"], "available": True},
         "p2": {"title": "Phone Y", "categories": ["phones"], "available": True},
         "p3": {"title": "Phone Z", "categories": ["phones"], "available": True},
         "gift": {"title": "Gift box", "available": True},
         "gone": {"title": "Sold out", "available": False}}


def ctx(churn: float = 0.1, upgrade: float = 0.1, contract: str = "annual",
        rfm: str = "loyal") -> RuleContext:
    return RuleContext(customer={"contract": contract}, needs={"churn": churn, "upgrade": upgrade},
                       segments={"rfm": rfm})


def names(actions: list) -> list[str]:  # type: ignore[type-arg]
    return [a.action for a in actions]


def test_eligibility_reads_needs_customer_and_segments() -> None:
    assert names(rank_actions(CATALOG, ctx())) == ["everyone"]
    at_risk = rank_actions(CATALOG, ctx(churn=0.8, contract="month-to-month"))
    assert names(at_risk) == ["retention-call", "everyone"]
    assert names(rank_actions(CATALOG, ctx(churn=0.8))) == ["everyone"]  # annual contract
    assert names(rank_actions(CATALOG, ctx(rfm="champions"))) == ["vip-campaign", "everyone"]


def test_ranking_by_priority_then_value_and_limit() -> None:
    both = ctx(churn=0.9, upgrade=0.9, contract="month-to-month", rfm="champions")
    ranked = rank_actions(CATALOG, both)
    assert names(ranked) == ["retention-call", "upgrade-offer", "vip-campaign"]  # max_actions 3
    assert ranked[0].value == pytest.approx(108.0)
    by_value = CATALOG.model_copy(update={"rank_by": "value", "max_actions": 10})
    assert names(rank_actions(by_value, both)) == [
        "retention-call", "upgrade-offer", "vip-campaign", "everyone"]
    assert names(rank_actions(CATALOG, both, limit=1)) == ["retention-call"]


def test_reasons_name_the_rule_and_the_needs_it_read() -> None:
    top = rank_actions(CATALOG, ctx(churn=0.75, contract="month-to-month"))[0]
    kinds = [(r.kind, r.ref) for r in top.reasons]
    assert kinds == [("rule", "retention-call"), ("need", "churn")]
    assert top.reasons[1].label == "churn score 0.75"
    assert "needs.churn > 0.6" in top.reasons[0].label
    assert top.to_dict()["reasons"][1]["weight"] == 0.75


def test_linked_items_from_fixed_list_and_recommendations() -> None:
    both = ctx(upgrade=0.9, rfm="champions")
    lists: dict[str, list[Any]] = {
        "cross-sell": [{"item_id": "c1"}, {"item_id": "p1"}, "p2", "p3"]}
    ranked = {a.action: a for a in rank_actions(CATALOG, both, recommended=lists, items=ITEMS)}
    assert ranked["upgrade-offer"].items == ("p1", "p2")  # phones only, max 2, list order
    assert ranked["vip-campaign"].items == ("gift",)  # the unavailable one is dropped
    assert any(r.label == "linked: Phone X" for r in ranked["upgrade-offer"].reasons)


def test_suppressed_and_failing_actions_are_left_out() -> None:
    errors: dict[str, str] = {}
    catalog = CATALOG.model_copy(update={"actions": (*CATALOG.actions, Action(
        name="broken", eligibility="customer.missing_field > 1.0", priority=50))})
    ranked = rank_actions(catalog, ctx(churn=0.9, contract="month-to-month"),
                          suppressed=frozenset({"retention-call"}), errors=errors)
    assert names(ranked) == ["everyone"]
    assert "broken" in errors and "missing_field" in errors["broken"]


def test_catalog_validation_points_at_the_action_and_position() -> None:
    with pytest.raises(RuleError) as info:
        ActionCatalog.model_validate({"actions": [
            {"name": "a", "eligibility": "needs.churn >"}]}).compile()
    assert info.value.details["action"] == "a" and info.value.details["column"] == 14
    with pytest.raises(RuleError) as info:
        ActionCatalog.model_validate({"actions": [
            {"name": "a", "eligibility": "item.price > 1.0"}]}).compile()
    assert info.value.details["reason"] == "unknown_name"  # actions see no item
    with pytest.raises(ValidationError):
        ActionCatalog.model_validate({"actions": [{"name": "a", "eligibility": "true"},
                                                  {"name": "a", "eligibility": "true"}]})
    with pytest.raises(ValidationError):
        Action.model_validate({"name": "a", "eligibility": "true", "colour": "red"})
