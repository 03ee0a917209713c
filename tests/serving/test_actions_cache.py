"""The next-best-action cache answers exactly as the store path, before and after changes.

A demo-like tenant (the demo's catalog: contract and loyalty fields, churn and a propensity
need, segments, a linked strategy's lists over categorised items) is ranked for every
customer by ``actions_for_customer`` (reads the store) and ``actions_from_cache`` (reads
the worker's memory); then rejections, consent, attribute, need-score, list, item and
erasure changes are written through a second store (another worker) and both must agree
again once the change feed's poll interval passed.
"""

from __future__ import annotations

import datetime as dt
import random
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tailorcrm.customize.actions import save_catalog
from tailorcrm.customize.budget import RequestBudget
from tailorcrm.customize.feedback import record_feedback
from tailorcrm.customize.nba import Made, actions_for_customer, actions_from_cache
from tailorcrm.demo.catalog import demo_actions
from tailorcrm.errors import NotFoundError
from tailorcrm.schema.fields import FieldSpec, FieldType
from tailorcrm.serving.actions_cache import ActionsCache
from tailorcrm.serving.tenant_model import POLL_S
from tailorcrm.store import Store

NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)
N_CUSTOMERS = 120
CATEGORY = "security"


def seed(store: Store) -> tuple[int, list[str]]:
    """A demo-like tenant: fields, customers, items, needs, segments, lists, a catalog."""
    rng = random.Random(7)
    tid = store.tenants.ensure("demo-like")
    for name in ("contract", "loyalty_tier"):
        store.fields.add(tid, FieldSpec(entity="customer", name=name, type=FieldType.STRING))
    ids = [f"cust-{i:04d}" for i in range(N_CUSTOMERS)]
    rows = [{"customer_id": c,
             "contract": rng.choice(["month-to-month", "one-year", "two-year"]),
             "loyalty_tier": rng.choice(["bronze", "silver", "gold"]),
             "consent_personalization": rng.choice(["granted", "denied", "unknown"])}
            for c in ids[:-5]]
    for consent in ("granted", "denied", "unknown"):  # one batch per consent state
        store.customers.upsert(tid, [r for r in rows
                                     if r["consent_personalization"] == consent])
    store.customers.upsert(tid, [{"customer_id": c} for c in ids[-5:]])  # without fields
    items = [{"item_id": f"i{k}", "title": f"Item {k}",
              "categories": [rng.choice([CATEGORY, "phones", "tv"])],
              "available": k % 7 != 0} for k in range(30)]
    store.items.upsert(tid, items)
    scored = ids[:-10]  # 10 customers without need scores
    store.need_scores.replace(tid, "churn", [
        {"customer_id": c, "score": rng.random(), "model_version": rng.choice(
            ["v1", "baseline-v1"])} for c in scored])
    store.need_scores.replace(tid, "buys_security", [
        {"customer_id": c, "score": rng.random(), "model_version": "v1"} for c in scored])
    store.segments.replace(tid, "rfm", {c: rng.choice(["champions", "at_risk"])
                                        for c in ids[::2]})
    store.recommendations.replace(tid, "homepage", [
        {"customer_id": c, "items": [{"item_id": f"i{rng.randrange(30)}"}
                                     for _ in range(6)]} for c in ids[:-20]])
    save_catalog(store.configs, tid, demo_actions("buys_security", CATEGORY))
    for c in ids[:15]:  # some rejections, old and recent
        record_feedback(store, tid, c, rng.choice(["retention-offer", "service-check-in"]),
                        False, ts=NOW - dt.timedelta(days=rng.choice([1, 40])))
    return tid, ids


@pytest.fixture()
def stores(database_url: str) -> Iterator[tuple[Store, Store]]:
    """Two stores on one database: this worker's, and another worker's (writes)."""
    with Store.open(database_url) as mine, Store.open(database_url, migrate=False) as other:
        yield mine, other


def _both(store: Store, cache: ActionsCache, tid: int, cid: str,
          limit: int | None = 5) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    slow = actions_for_customer(store, tid, cid, now=NOW, limit=limit,
                                budget=RequestBudget.unbounded())
    fast = actions_from_cache(cache, tid, cid, now=NOW, limit=limit,
                              budget=RequestBudget.unbounded())
    return [a.to_dict() for a in slow], [a.to_dict() for a in fast]


def _agree(store: Store, cache: ActionsCache, tid: int, ids: list[str]) -> int:
    """Both paths agree for every id; returns how many actions they proposed in all."""
    total = 0
    for cid in ids:
        for limit in (5, None):
            slow, fast = _both(store, cache, tid, cid, limit)
            assert fast == slow, cid
            total += len(fast)
    return total


def test_cache_answers_as_the_store_for_every_customer(
        stores: tuple[Store, Store]) -> None:
    store, _ = stores
    tid, ids = seed(store)
    cache = ActionsCache(store)
    proposed = _agree(store, cache, tid, ids)
    assert proposed > N_CUSTOMERS  # the data makes actions eligible (not all empty)
    linked = [a for cid in ids for a in actions_from_cache(cache, tid, cid, now=NOW)
              if a.items]
    assert linked  # the campaign links items of the homepage lists
    with pytest.raises(NotFoundError):
        actions_from_cache(cache, tid, "nobody", now=NOW)
    with pytest.raises(NotFoundError):
        actions_from_cache(cache, tid, ids[0], catalog="missing", now=NOW)


def test_changes_through_another_worker_are_seen_within_the_poll(
        stores: tuple[Store, Store]) -> None:
    store, other = stores
    tid, ids = seed(store)
    cache = ActionsCache(store)
    _agree(store, cache, tid, ids)
    eligible = {cid: [a.action for a in actions_from_cache(cache, tid, cid, now=NOW)]
                for cid in ids}
    target = next(c for c in ids[20:] if eligible[c])
    rejected = eligible[target][0]

    record_feedback(other, tid, target, rejected, False, ts=NOW - dt.timedelta(hours=1))
    flip = ids[30]
    other.customers.upsert(tid, [{"customer_id": flip, "contract": "month-to-month",
                                  "loyalty_tier": "bronze"}])
    other.customers.set_consent(tid, ids[31], "personalization", "denied")
    other.need_scores.replace(tid, "churn", [{"customer_id": c, "score": 0.9,
                                              "model_version": "v2"} for c in ids[::3]])
    other.items.upsert(tid, [{"item_id": f"i{k}", "title": f"New {k}",
                              "categories": [CATEGORY], "available": True}
                             for k in range(30)])
    other.customers.upsert(tid, [{"customer_id": "cust-new", "contract": "month-to-month"}])
    time.sleep(POLL_S)  # another worker's writes: seen once the poll interval passed

    assert rejected not in [a.action for a in actions_from_cache(cache, tid, target,
                                                                 now=NOW)]
    _agree(store, cache, tid, [*ids, "cust-new"])

    other.erase_customer(tid, ids[40])
    other.recommendations.replace(tid, "homepage", [
        {"customer_id": c, "items": [{"item_id": "i1"}, {"item_id": "i2"}]} for c in ids])
    time.sleep(POLL_S)
    with pytest.raises(NotFoundError):
        actions_from_cache(cache, tid, ids[40], now=NOW)
    _agree(store, cache, tid, [c for c in ids if c != ids[40]])


def test_a_write_through_this_worker_is_seen_at_once(stores: tuple[Store, Store]) -> None:
    store, _ = stores
    tid, ids = seed(store)
    cache = ActionsCache(store)
    _agree(store, cache, tid, ids)
    cid = next(c for c in ids[20:]
               if actions_from_cache(cache, tid, c, now=NOW))
    first = actions_from_cache(cache, tid, cid, now=NOW)[0].action
    record_feedback(store, tid, cid, first, False, ts=NOW - dt.timedelta(minutes=1))
    cache.touch(tid)  # what the routes do after a write (through ModelCache.touch)
    assert first not in [a.action for a in actions_from_cache(cache, tid, cid, now=NOW)]
    _agree(store, cache, tid, [cid])
    save_catalog(store.configs, tid, {"actions": [
        {"name": "only", "eligibility": "true", "priority": 1}]})
    cache.touch(tid)
    assert [a.action for a in actions_from_cache(cache, tid, cid, now=NOW)] == ["only"]


def test_kept_answers_end_with_their_inputs(stores: tuple[Store, Store]) -> None:
    """An answer is kept until a change of what it was made from, or until a rejection's
    suppression ends (then the action is proposed again)."""
    store, _ = stores
    tid, ids = seed(store)
    cache = ActionsCache(store)
    cid = ids[0]
    made: list[Made] = []
    actions_from_cache(cache, tid, cid, limit=5, made=made)
    moment = made[0].moment
    cache.remember(tid, cid, "default", 5, made[0].inputs, made[0].version, None, b"kept")
    assert cache.answer(tid, cid, "default", 5, moment) == b"kept"
    assert cache.answer(tid, cid, "default", 3, moment) is None  # another limit
    assert cache.answer(tid, ids[1], "default", 5, moment) is None
    record_feedback(store, tid, cid, "loyalty-upgrade", False, ts=moment)
    cache.touch(tid)
    cache.tenant(tid)  # the next request syncs: the customer's answers are dropped
    assert cache.answer(tid, cid, "default", 5, moment) is None
    # a stale version is never kept
    cache.remember(tid, cid, "default", 5, made[0].inputs, made[0].version, None, b"old")
    assert cache.answer(tid, cid, "default", 5, moment) is None


def test_a_reload_drops_only_the_answers_of_customers_whose_inputs_changed(
        stores: tuple[Store, Store]) -> None:
    store, _ = stores
    tid, ids = seed(store)
    cache = ActionsCache(store)
    kept, moved = ids[0], ids[1]
    for cid in (kept, moved):
        made: list[Made] = []
        actions_from_cache(cache, tid, cid, limit=5, made=made)
        cache.remember(tid, cid, "default", 5, made[0].inputs, made[0].version, None,
                       cid.encode())
    scores = store.bulk.need_scores(tid)
    store.need_scores.replace(tid, "buys_security", [  # training rewrote the need: one moved
        {"customer_id": c, "score": 0.99 if c == moved else s["buys_security"],
         "model_version": "v1"} for c, s in scores.items() if "buys_security" in s])
    cache.touch(tid)  # the stamp moved: everything is read again and compared
    moment = dt.datetime.now(dt.UTC)
    assert cache.answer_synced(tid, kept, "default", 5, moment) == kept.encode()
    assert cache.answer(tid, kept, "default", 5, moment) == kept.encode()
    assert cache.answer(tid, moved, "default", 5, moment) is None
    _agree(store, cache, tid, [kept, moved])
