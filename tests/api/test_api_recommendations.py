"""Recommendations through the API: training job, precomputed vs online lists, staleness,
fold-in of events after training, similar items, feedback attribution."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from api_helpers import Api, make_api, seed

from tailorcrm.serving.cache import ACTIVE_TTL_S, POLL_S

LOW = {f"i{i}" for i in range(10)}
HIGH = {f"i{i}" for i in range(10, 20)}


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    """A tenant with two planted taste groups, trained through ``POST /v1/jobs/train``."""
    folder = tmp_path_factory.mktemp("trained")
    api = make_api(f"sqlite:///{folder / 'db.sqlite'}", folder / "artifacts")
    seed(api)
    r = api.client.post("/v1/jobs/train", json={"needs": False}, headers=api.h("write"))
    assert r.status_code == 202, r.text
    state = api.wait_job(r.json()["job_id"])
    assert state["status"] == "succeeded", state
    assert state["result"]["recommendation_lists"] == 40
    assert (state["step"], state["done"]) == ("segments", state["total"])  # progress seen
    yield api
    api.store.close()


def test_precomputed_list_follows_planted_taste(trained: Api) -> None:
    r = trained.client.get("/v1/customers/c0/recommendations?n=5", headers=trained.h("read"))
    body = r.json()
    assert r.status_code == 200, body
    assert body["source"] == "precomputed"
    active = trained.store.models.active(trained.tid, "recommender")
    assert active is not None and body["model_version"] == active.version
    ids = [i["item_id"] for i in body["items"]]
    assert len(ids) == 5 and len(set(ids) & LOW) >= 4, ids
    bought = {e.item_id for e in trained.store.events.for_customer(trained.tid, "c0")}
    assert not set(ids) & bought
    assert all(i["reasons"] for i in body["items"])
    odd = trained.client.get("/v1/customers/c1/recommendations?n=5",
                             headers=trained.h("read")).json()
    assert len({i["item_id"] for i in odd["items"]} & HIGH) >= 4


def test_longer_list_than_precomputed_is_scored_online(trained: Api) -> None:
    body = trained.client.get("/v1/customers/c2/recommendations?n=15",
                              headers=trained.h("read")).json()
    assert body["source"] == "online"
    assert len(body["items"]) >= 5


def test_stale_config_hash_falls_back_to_online(trained: Api) -> None:
    lists = trained.store.recommendations
    saved = [lists.get(trained.tid, "default", f"c{c}") for c in range(40)]
    rows = [r.model_dump() for r in saved if r is not None]
    assert len(rows) == 40
    stale = [{**r, "config_hash": "other", "items": [{"item_id": "i19", "score": 1.0,
                                                     "reasons": []}]}
             if r["customer_id"] == "c4" else r for r in rows]
    lists.replace(trained.tid, "default", stale)
    time.sleep(POLL_S + 0.1)  # written behind the server's back: seen within the poll bound
    try:
        body = trained.client.get("/v1/customers/c4/recommendations?n=3",
                                  headers=trained.h("read")).json()
        assert body["source"] == "online"
        assert {i["item_id"] for i in body["items"]} <= LOW
    finally:
        lists.replace(trained.tid, "default", rows)


def test_events_after_training_are_folded_in(trained: Api) -> None:
    c, w = trained.client, trained.h("write")
    c.put("/v1/customers/newbie", json={}, headers=w)
    events = [{"customer_id": "newbie", "item_id": f"i{i}", "type": "purchase"}
              for i in (11, 13, 15)]
    assert c.post("/v1/events", json=events, headers=w).json()["inserted"] == 3
    body = c.get("/v1/customers/newbie/recommendations?n=4", headers=trained.h("read")).json()
    assert body["source"] == "online"
    ids = {i["item_id"] for i in body["items"]}
    assert len(ids & HIGH) >= 3 and not ids & {"i11", "i13", "i15"}, ids
    # a known customer rejects their best item: it never comes back
    first = c.get("/v1/customers/c6/recommendations?n=3", headers=trained.h("read")).json()
    top = first["items"][0]["item_id"]
    c.post("/v1/events", json={"customer_id": "c6", "item_id": top, "type": "reject"},
           headers=w)
    again = c.get("/v1/customers/c6/recommendations?n=3", headers=trained.h("read")).json()
    assert again["source"] == "online"
    assert top not in {i["item_id"] for i in again["items"]}


def test_new_model_version_makes_lists_stale(trained: Api) -> None:
    active = trained.store.models.active(trained.tid, "recommender")
    assert active is not None
    trained.store.models.register(trained.tid, "recommender", "copy-v2", active.kind,
                                  active.path, {}, active.config_hash, activate=True)
    time.sleep(ACTIVE_TTL_S + 0.1)  # the server re-reads the active version once a second
    try:
        body = trained.client.get("/v1/customers/c8/recommendations?n=3",
                                  headers=trained.h("read")).json()
        assert body["model_version"] == "copy-v2" and body["source"] == "online"
        assert {i["item_id"] for i in body["items"]} <= LOW
    finally:
        trained.store.models.activate(trained.tid, "recommender", active.version)
        time.sleep(ACTIVE_TTL_S + 0.1)


def test_similar_items(trained: Api) -> None:
    body = trained.client.get("/v1/items/i3/similar?n=5", headers=trained.h("read")).json()
    ids = [i["item_id"] for i in body["items"]]
    assert len(ids) == 5 and set(ids) <= LOW - {"i3"}
    assert trained.client.get("/v1/items/nope/similar",
                              headers=trained.h("read")).status_code == 404


def test_feedback_is_attributed_to_the_recommendation(trained: Api) -> None:
    c = trained.client
    rec = c.get("/v1/customers/c10/recommendations?n=3", headers=trained.h("read")).json()
    rid, item = rec["recommendation_id"], rec["items"][0]["item_id"]
    url = f"/v1/recommendations/{rid}/feedback"
    r = c.post(url, json={"item_id": item, "outcome": "clicked"}, headers=trained.h("write"))
    assert r.status_code == 200, r.text
    assert r.json() == {"recommendation_id": rid, "customer_id": "c10", "event_type": "click",
                        "recorded": True}
    again = c.post(url, json={"item_id": item, "outcome": "clicked"}, headers=trained.h("write"))
    assert again.json()["recorded"] is False
    stored = trained.store.events.for_customer(trained.tid, "c10", types=["click"])
    assert [(e.item_id, e.attributes["recommendation_id"]) for e in stored] == [(item, rid)]
    r = c.post(url, json={"item_id": item, "outcome": "rejected"}, headers=trained.h("write"))
    assert r.json()["event_type"] == "reject"
    assert c.post("/v1/recommendations/garbage/feedback", json={"item_id": item,
                  "outcome": "clicked"}, headers=trained.h("write")).status_code == 404


def test_named_strategy_without_lists_is_scored_online(trained: Api) -> None:
    """No 409 for a missing or stale list: a strategy never precomputed ranks online with the
    tenant's model and its own exclusions and rules until its models are trained."""
    c = trained.client
    rules = {"filters": [{"name": "low", "expression": "item.item_id in " +
                          str(sorted(LOW)).replace("'", '"')}]}
    assert c.put("/v1/strategies/lowonly", json={"models": [{"kind": "popularity"}],
                                                 "rules": rules},
                 headers=trained.h()).status_code == 200
    r = c.get("/v1/customers/c15/recommendations?strategy=lowonly&n=3",
              headers=trained.h("read"))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["source"] == "online" and len(body["items"]) == 3
    assert {i["item_id"] for i in body["items"]} <= LOW  # the strategy's rule holds
    assert c.get("/v1/customers/c0/recommendations?strategy=none",
                 headers=trained.h("read")).status_code == 404


def test_segments_after_training(trained: Api) -> None:
    segs = trained.client.get("/v1/segments", headers=trained.h("read")).json()["segmentations"]
    assert sum(segs["rfm"].values()) == 40


def test_without_reasons_the_same_list_is_served(trained: Api) -> None:
    c, h = trained.client, trained.h("read")
    full = c.get("/v1/customers/c12/recommendations?n=15", headers=h).json()
    lean = c.get("/v1/customers/c12/recommendations?n=15&reasons=false", headers=h).json()
    assert full["source"] == lean["source"] == "online"
    assert [i["item_id"] for i in lean["items"]] == [i["item_id"] for i in full["items"]]
    assert all(i["reasons"] == [] for i in lean["items"])
    assert all(i["reasons"] for i in full["items"])
    cached = c.get("/v1/customers/c14/recommendations?n=5&reasons=false", headers=h).json()
    assert cached["source"] == "precomputed" and all(i["reasons"] == [] for i in cached["items"])


def test_fold_in_on_every_backend(database_url: str, tmp_path: Path) -> None:
    api = make_api(database_url, tmp_path / "artifacts")
    try:
        seed(api)
        job = api.client.post("/v1/jobs/train", json={"needs": False, "segments": False},
                              headers=api.h("write")).json()
        assert api.wait_job(job["job_id"])["status"] == "succeeded"
        api.client.put("/v1/customers/late", json={}, headers=api.h("write"))
        api.client.post("/v1/events", json=[
            {"customer_id": "late", "item_id": f"i{i}", "type": "purchase"} for i in (2, 4, 6)],
            headers=api.h("write"))
        body = api.client.get("/v1/customers/late/recommendations?n=4",
                              headers=api.h("read")).json()
        ids = {i["item_id"] for i in body["items"]}
        assert body["source"] == "online" and len(ids & LOW) >= 3, body
    finally:
        api.store.close()


def test_a_named_strategy_never_serves_what_was_just_bought_or_rejected(
        database_url: str, tmp_path: Path) -> None:
    from tailorcrm.customize.precompute import precompute_strategy

    api = make_api(database_url, tmp_path / "artifacts")
    try:
        seed(api)
        c = api.client
        assert c.put("/v1/strategies/pop", json={"models": [{"kind": "popularity"}]},
                     headers=api.h()).status_code == 200
        precompute_strategy(api.store, api.tid, "pop")
        before = c.get("/v1/customers/c0/recommendations?strategy=pop&n=5",
                       headers=api.h("read")).json()
        assert before["source"] == "precomputed"
        first, second = before["items"][0]["item_id"], before["items"][1]["item_id"]
        for item, kind in ((first, "purchase"), (second, "reject")):  # live, after precompute
            r = c.post("/v1/events", json={"customer_id": "c0", "item_id": item, "type": kind},
                       headers=api.h("write"))
            assert r.json()["inserted"] == 1
        after = c.get("/v1/customers/c0/recommendations?strategy=pop&n=5",
                      headers=api.h("read")).json()
        shown = [i["item_id"] for i in after["items"]]
        assert first not in shown and second not in shown
        stored = api.store.recommendations.get(api.tid, "pop", "c0")
        assert stored is not None
        assert shown == [i["item_id"] for i in stored.items[2:]][:5]
    finally:
        api.store.close()


def test_in_memory_fast_path_gives_the_stored_list(trained: Api) -> None:
    """The event-loop fast path (no I/O) answers only with what the full path would serve."""
    from tailorcrm.serving import recommend as service

    cache = trained.client.app.state.cache  # type: ignore[attr-defined]
    store, tid = trained.store, trained.tid
    for c in (f"c{i}" for i in range(0, 40, 7)):
        slow = service.recommend(store, cache, tid, c, n=5)
        fast = service.ready_list(store, cache, tid, c, n=5)
        if slow.source == "precomputed":
            assert fast is not None and fast.items == slow.items
            assert fast.model_version == slow.model_version
        else:
            assert fast is None
    assert service.ready_list(store, cache, tid, "nobody-here", n=5) is None
    cache.touch(tid)  # a write through this worker: the next request reads the feed first
    assert service.ready_list(store, cache, tid, "c0", n=5) is None


def test_online_list_is_kept_until_the_customer_changes(trained: Api) -> None:
    """A list scored online is served again from memory while nothing changed for the
    customer, and scored anew after their next event (the rejected item leaves it)."""
    from tailorcrm.serving import recommend as service

    c, r, w = trained.client, trained.h("read"), trained.h("write")
    c.post("/v1/events", json={"customer_id": "c9", "item_id": "i1", "type": "view"}, headers=w)
    first = c.get("/v1/customers/c9/recommendations?n=4", headers=r).json()
    assert first["source"] == "online"
    cache = trained.client.app.state.cache  # type: ignore[attr-defined]
    again = service.ready_list(trained.store, cache, trained.tid, "c9", n=4)
    assert again is not None and again.source == "online" and again.items == first["items"]
    top = first["items"][0]["item_id"]
    c.post("/v1/events", json={"customer_id": "c9", "item_id": top, "type": "reject"},
           headers=w)
    after = c.get("/v1/customers/c9/recommendations?n=4", headers=r).json()
    assert after["source"] == "online" and top not in [i["item_id"] for i in after["items"]]
