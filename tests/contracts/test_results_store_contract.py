"""Results store contract: segments, need scores and precomputed lists, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tailorcrm.store import Store
from tailorcrm.store.results import ResultStamp


@pytest.fixture()
def store(database_url: str) -> Iterator[Store]:
    with Store.open(database_url) as s:
        yield s


def test_the_facade_keeps_the_old_names_as_the_same_objects(store: Store) -> None:
    assert store.results.segments is store.segments
    assert store.results.need_scores is store.need_scores
    assert store.results.recommendations is store.recommendations


def test_segments_replace_members_and_sizes(store: Store) -> None:
    tid = store.tenants.ensure("acme")
    segments = store.results.segments
    segments.replace(tid, "rfm", {"c1": "champions", "c2": "lost", "c3": "champions"})
    segments.replace(tid, "behaviour", {"c1": "browsers"})
    assert segments.of_customer(tid, "c1") == {"behaviour": "browsers", "rfm": "champions"}
    assert segments.members(tid, "rfm", "champions") == ["c1", "c3"]
    segments.replace(tid, "rfm", {"c2": "champions"})  # whole segmentation replaced
    assert segments.list(tid) == {"behaviour": {"browsers": 1}, "rfm": {"champions": 1}}


def test_need_scores_replace_and_top(store: Store) -> None:
    tid = store.tenants.ensure("acme")
    store.results.need_scores.replace(tid, "churn", [
        {"customer_id": "c1", "score": 0.2, "model_version": "v1"},
        {"customer_id": "c2", "score": 0.9, "model_version": "v1",
         "reasons": [{"feature": "tenure", "effect": 0.4}]}])
    store.results.need_scores.replace(tid, "upgrade", [{"customer_id": "c2", "score": 0.5}])
    got = store.results.need_scores.for_customer(tid, "c2")
    assert sorted(got) == ["churn", "upgrade"]
    assert got["churn"].reasons == [{"feature": "tenure", "effect": 0.4}]
    assert [r.customer_id for r in store.results.need_scores.top(tid, "churn", limit=1)] == ["c2"]
    store.results.need_scores.replace(tid, "churn", [])
    assert list(store.results.need_scores.for_customer(tid, "c2")) == ["upgrade"]


def test_recommendation_lists_and_staleness(store: Store) -> None:
    tid = store.tenants.ensure("acme")
    items = [{"item_id": "i1", "score": 0.7, "reasons": ["bought with i2"]}, {"item_id": "i2"}]
    store.results.recommendations.replace(tid, "home", [
        {"customer_id": "c1", "items": items, "model_version": "v1", "config_hash": "h1"},
        {"customer_id": "c2", "items": [], "model_version": "v0", "config_hash": "h1"}])
    got = store.results.recommendations.get(tid, "home", "c1")
    assert got is not None and got.items == items
    assert not got.is_stale("v1", "h1") and got.is_stale("v1", "h2")
    assert store.results.recommendations.count_stale(tid, "home", model_version="v1",
                                             config_hash="h1") == (1, 2)
    assert store.results.recommendations.get(tid, "other", "c1") is None
    assert store.results.recommendations.strategies(tid) == {"home": 2}


def test_writes_are_stamped(store: Store) -> None:
    tid = store.tenants.ensure("acme")
    stamp = ResultStamp("v7", "h7")
    lists = store.results.recommendations
    lists.replace(tid, "home", [{"customer_id": "c1", "items": ["i1"]},
                                {"customer_id": "c2", "items": ["i2"], "model_version": "v6",
                                 "config_hash": "h6"}],
                  model_version=stamp.model_version, config_hash=stamp.config_hash)
    c1, c2 = lists.get(tid, "home", "c1"), lists.get(tid, "home", "c2")
    assert c1 is not None and c2 is not None
    assert stamp.matches(c1) and not stamp.matches(c2)  # a row's own stamp wins
    assert lists.count_stale(tid, "home", model_version="v7", config_hash="h7") == (1, 2)
    store.results.need_scores.replace(tid, "churn", [{"customer_id": "c1", "score": 0.3}],
                                      model_version="v7")
    assert store.results.need_scores.for_customer(tid, "c1")["churn"].model_version == "v7"


def test_results_of_tenants_are_isolated(store: Store) -> None:
    a, b = store.tenants.ensure("alpha"), store.tenants.ensure("beta")
    store.results.segments.replace(a, "rfm", {"c1": "champions"})
    store.results.need_scores.replace(a, "churn", [{"customer_id": "c1", "score": 0.5}])
    store.results.recommendations.replace(a, "home", [{"customer_id": "c1", "items": ["i1"]}])
    assert store.results.summary(a) == {"segments": {"rfm": 1}, "need_scores": {"churn": 1},
                                        "recommendations": {"home": 1}}
    assert store.results.summary(b) == {"segments": {}, "need_scores": {},
                                        "recommendations": {}}
    assert store.results.segments.of_customer(b, "c1") == {}
    assert store.results.need_scores.top(b, "churn") == []
    assert store.results.recommendations.get(b, "home", "c1") is None
    store.results.segments.replace(b, "rfm", {})  # replacing B's leaves A's alone
    assert store.results.segments.members(a, "rfm", "champions") == ["c1"]


def test_customers_erased_after_the_watermark_are_left_out(store: Store) -> None:
    tid = store.tenants.ensure("acme")
    store.customers.upsert(tid, [{"customer_id": "c1"}, {"customer_id": "c2"}])
    watermark = store.tombstones.watermark(tid)
    store.erase_customer(tid, "c2")
    assert store.results.segments.replace(tid, "rfm", {"c1": "a", "c2": "b"},
                                          erased_after=watermark) == 1
    assert store.results.need_scores.replace(
        tid, "churn", [{"customer_id": "c1", "score": 1.0}, {"customer_id": "c2", "score": 1.0}],
        erased_after=watermark) == 1
    assert store.results.recommendations.replace(
        tid, "home", [{"customer_id": "c1", "items": []}, {"customer_id": "c2", "items": []}],
        erased_after=watermark) == 1
    assert store.results.recommendations.get(tid, "home", "c2") is None
