"""Batch recommendation job: every customer gets a list, stored and read back for serving."""

from __future__ import annotations

import json

import pytest

from tailorcrm.demo.config import DemoConfig
from tailorcrm.demo.generator import generate
from tailorcrm.jobs.recommend_batch import recommend_all
from tailorcrm.recommend.ease import EASE
from tailorcrm.recommend.ranking import Ranker


@pytest.fixture(scope="module")
def ranker() -> Ranker:
    data = generate(DemoConfig(n_customers=60, n_items=40, seed=5)).to_dataset()
    return Ranker(EASE(lam=20.0).fit(data), data)


def test_every_customer_gets_a_json_ready_list_with_progress(ranker: Ranker) -> None:
    seen: list[tuple[int, int | None]] = []
    rows = recommend_all(ranker, model_version="v1", config_hash="h", batch_size=25,
                         progress=lambda step, done, total: seen.append((done, total)))
    assert [r["customer_id"] for r in rows] == list(ranker.data.customer_vocab.ids)
    assert all(r["items"] for r in rows)  # cold and consent-denied customers too
    json.dumps(rows)
    assert seen[-1] == (60, 60) and len(seen) == 4


def test_batch_lists_equal_single_customer_lists(ranker: Ranker) -> None:
    rows = recommend_all(ranker, customer_ids=ranker.data.customer_vocab.ids[:10].tolist())
    for row in rows:
        single = [r.to_dict() for r in ranker.recommend(row["customer_id"])]
        assert [r["item_id"] for r in row["items"]] == [r["item_id"] for r in single]
        assert [r["score"] for r in row["items"]] == pytest.approx(
            [r["score"] for r in single], rel=1e-5)


def test_rows_round_trip_through_the_store(ranker: Ranker, sqlite_url: str) -> None:
    from tailorcrm.store import Store

    store = Store.open(sqlite_url)
    tid = store.tenants.ensure("batch")
    rows = recommend_all(ranker, model_version="v1", config_hash="h")
    assert store.recommendations.replace(tid, "default", rows) == len(rows)
    stored = store.recommendations.get(tid, "default", rows[0]["customer_id"])
    assert stored is not None and stored.items == rows[0]["items"]
