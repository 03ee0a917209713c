"""Next best actions for stored customers, feedback events and counts, on both backends."""

from __future__ import annotations

import datetime as dt

import pytest

from tailorcrm.customize.actions import ActionCatalog, load_catalog, save_catalog
from tailorcrm.customize.feedback import ACCEPTED, feedback_stats, record_feedback
from tailorcrm.customize.nba import actions_for_customer
from tailorcrm.errors import NotFoundError, RuleError
from tailorcrm.schema.fields import FieldSpec, FieldType
from tailorcrm.store import Store

CATALOG = {"actions": [
    {"name": "retention-call", "kind": "service", "priority": 10, "suppress_days": 30,
     "eligibility": 'needs.churn > 0.6 && customer.contract == "month-to-month"'},
    {"name": "upgrade-offer", "priority": 5, "eligibility": "segments.rfm == 'champions'",
     "strategy": "cross-sell", "linked_categories": ["phones"]},
]}
NOW = dt.datetime(2025, 6, 1, tzinfo=dt.UTC)


def seed(store: Store) -> int:
    tid = store.tenants.ensure("telco")
    store.fields.add(tid, FieldSpec(entity="customer", name="contract", type=FieldType.STRING))
    store.customers.upsert(tid, [
        {"customer_id": "a", "contract": "month-to-month"},
        {"customer_id": "b", "contract": "annual"},
    ])
    store.items.upsert(tid, [
        {"item_id": "p1", "title": "Phone", "categories": ["phones"]},
        {"item_id": "k1", "title": "Cable", "categories": ["accessories"]},
    ])
    store.need_scores.replace(tid, "churn", [{"customer_id": "a", "score": 0.8},
                                             {"customer_id": "b", "score": 0.9}])
    store.segments.replace(tid, "rfm", {"a": "champions", "b": "at-risk"})
    store.recommendations.replace(tid, "cross-sell", [
        {"customer_id": "a", "items": [{"item_id": "k1"}, {"item_id": "p1"}]}])
    return tid


def test_catalog_versions(database_url: str) -> None:
    with Store.open(database_url) as store:
        tid = store.tenants.ensure("telco")
        assert save_catalog(store.configs, tid, CATALOG) == 1
        changed = {**CATALOG, "max_actions": 1}
        assert save_catalog(store.configs, tid, changed) == 2
        assert load_catalog(store.configs, tid).max_actions == 1
        assert load_catalog(store.configs, tid, version=1) == ActionCatalog.model_validate(
            CATALOG)
        with pytest.raises(RuleError):
            save_catalog(store.configs, tid, {"actions": [{"name": "x", "eligibility": "("}]})
        assert store.configs.versions(tid, "actions", "default") == [1, 2]


def test_actions_feedback_and_suppression(database_url: str) -> None:
    with Store.open(database_url) as store:
        tid = seed(store)
        save_catalog(store.configs, tid, CATALOG)
        ranked = actions_for_customer(store, tid, "a", now=NOW)
        assert [a.action for a in ranked] == ["retention-call", "upgrade-offer"]
        assert ranked[0].reasons[1].ref == "churn"
        assert ranked[1].items == ("p1",)  # the cross-sell list, phones only
        assert [a.action for a in actions_for_customer(store, tid, "b", now=NOW)] == []
        with pytest.raises(NotFoundError):
            actions_for_customer(store, tid, "nobody", now=NOW)

        assert record_feedback(store, tid, "a", "retention-call", False, ts=NOW)
        assert not record_feedback(store, tid, "a", "retention-call", False, ts=NOW)  # dup
        record_feedback(store, tid, "a", "upgrade-offer", True, ts=NOW)
        record_feedback(store, tid, "b", "upgrade-offer", True, ts=NOW)
        record_feedback(store, tid, "b", "upgrade-offer", False,
                        ts=NOW + dt.timedelta(hours=1))
        later = actions_for_customer(store, tid, "a", now=NOW + dt.timedelta(days=1))
        assert [a.action for a in later] == ["upgrade-offer"]  # rejected one is suppressed
        much_later = actions_for_customer(store, tid, "a", now=NOW + dt.timedelta(days=31))
        assert [a.action for a in much_later] == ["retention-call", "upgrade-offer"]

        stats = feedback_stats(store, tid, ["retention-call", "upgrade-offer", "unused"])
        assert (stats["upgrade-offer"].accepted, stats["upgrade-offer"].rejected) == (2, 1)
        assert stats["upgrade-offer"].acceptance_rate == pytest.approx(2 / 3)
        assert stats["retention-call"].acceptance_rate == 0.0
        assert stats["unused"].acceptance_rate is None
        # Feedback events never count as item preferences.
        types = {t.name: t for t in store.event_types.list(tid)}
        assert types[ACCEPTED].preference is False and types[ACCEPTED].weight == 0.0
        data = store.load_dataset(tid)
        assert data.interaction_matrix().nnz == 0
