"""The publication gate on planted data: no signal, no model; the baseline or the last good
model's scores instead, and every reader (store, API shape, next best actions) sees which."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from planted_needs import planted, planted_churn

from tailorcrm.customize.actions import Action, ActionCatalog, rank_actions
from tailorcrm.customize.nba import stored_context
from tailorcrm.errors import NotFoundError
from tailorcrm.needs.definitions import ChurnNeed, LabelNeed
from tailorcrm.needs.gate import GateConfig
from tailorcrm.needs.model import ModelConfig
from tailorcrm.needs.publishing import train_and_publish
from tailorcrm.needs.scoring import load_active
from tailorcrm.store import Store

FAST = ModelConfig(inner_folds=2)
SIGNAL = LabelNeed(name="churn", field="churn", positive=("Yes",))
NO_SIGNAL = LabelNeed(name="coin", field="coin", positive=("Yes",))


@pytest.fixture()
def store(sqlite_url: str) -> Store:
    s = Store.open(sqlite_url)
    yield s
    s.close()


@pytest.fixture()
def any_store(database_url: str) -> Store:
    """A store of each backend (SQLite, PostgreSQL) in turn."""
    s = Store.open(database_url)
    yield s
    s.close()


def _customers(store: Store, tid: int, data) -> None:  # type: ignore[no-untyped-def]
    store.customers.upsert(tid, [{"customer_id": c} for c in data.customers.index])


def test_signal_need_is_published_and_graded(store: Store, tmp_path: Path) -> None:
    tid = store.tenants.ensure("t")
    data = planted(1000)
    out = train_and_publish(store, tid, SIGNAL, data, tmp_path, config=FAST)
    assert out.source == "model" and out.gate.passed and out.grade in ("A", "B")
    assert out.customers_scored == len(data.customers)
    record = store.models.active(tid, "need:churn")
    assert record is not None and record.version == out.model_version
    assert record.metrics["gate"]["passed"] and record.metrics["grade"]["letter"] == out.grade
    top = store.need_scores.top(tid, "churn", limit=3)
    assert all(r.source == "model" and r.model_version == out.model_version for r in top)
    assert load_active(store, tid, "churn").algorithm_ == out.algorithm


@pytest.mark.parametrize("need", [NO_SIGNAL, ChurnNeed(name="coin", horizon_days=60)],
                         ids=["label", "churn"])
def test_need_without_signal_is_not_published(store: Store, tmp_path: Path,
                                              need: LabelNeed | ChurnNeed) -> None:
    """Label: a coin flip. Churn: every contract stops alike, so nothing beats recency."""
    tid = store.tenants.ensure("t")
    data = planted_churn(400, signal=False) if isinstance(need, ChurnNeed) else planted(400)
    if isinstance(need, LabelNeed):
        rng = np.random.default_rng(1)
        data.customers["coin"] = np.where(rng.random(len(data.customers)) < 0.3, "Yes", "No")
    out = train_and_publish(store, tid, need, data, tmp_path, config=FAST)
    assert out.source == "baseline" and not out.gate.passed
    assert out.model_version.startswith("baseline-")
    # the trained model is kept for the record, but it is not the active version
    trained = store.models.get(tid, "need:coin", out.trained_version)
    assert not trained.active and trained.metrics["gate"]["passed"] is False
    active = store.models.active(tid, "need:coin")
    assert active is not None and active.kind.startswith("need-baseline:")
    with pytest.raises(NotFoundError, match="baseline"):
        load_active(store, tid, "coin")
    rows = store.need_scores.top(tid, "coin", limit=500)
    assert len(rows) == len(data.customers)
    assert {r.source for r in rows} == {"baseline"}
    text = rows[0].reasons[0]["text"]
    assert text.startswith("baseline: ") and "because the model did not beat it" in text


def test_last_good_scores_stay_until_a_better_model(store: Store, tmp_path: Path) -> None:
    tid = store.tenants.ensure("t")
    data = planted(1000)
    good = train_and_publish(store, tid, SIGNAL, data, tmp_path, config=FAST)
    before = {r.customer_id: r.score for r in store.need_scores.top(tid, "churn", limit=1100)}
    strict = GateConfig(min_gain=0.9)  # nothing can pass: the next model is rejected
    again = train_and_publish(store, tid, SIGNAL, data, tmp_path, config=FAST, gate=strict)
    assert again.source == "kept" and again.model_version == good.model_version
    assert again.trained_version != good.model_version and again.customers_scored == 0
    after = {r.customer_id: r.score for r in store.need_scores.top(tid, "churn", limit=1100)}
    assert after == before
    assert store.models.active(tid, "need:churn").version == good.model_version  # type: ignore[union-attr]


def test_next_best_actions_and_the_api_see_a_baseline_score(any_store: Store,
                                                            tmp_path: Path) -> None:
    from tailorcrm.api.routes.insights import NeedPublic

    tid = any_store.tenants.ensure("t")
    data = planted(400)
    rng = np.random.default_rng(2)
    data.customers["coin"] = np.where(rng.random(len(data.customers)) < 0.3, "Yes", "No")
    _customers(any_store, tid, data)
    train_and_publish(any_store, tid, NO_SIGNAL, data, tmp_path, config=FAST)
    customer = str(data.customers.index[0])
    ctx = stored_context(any_store, tid, customer)
    assert ctx.need_sources == {"coin": "baseline"} and "coin" in ctx.needs
    catalog = ActionCatalog(actions=[Action(name="save", eligibility="needs.coin >= 0.0")])
    (action,) = rank_actions(catalog, ctx)
    assert any(r.label.endswith("(baseline)") for r in action.reasons)
    stored = any_store.need_scores.for_customer(tid, customer)["coin"]
    public = NeedPublic(need="coin", score=stored.score, model_version=stored.model_version,
                        reasons=stored.reasons, scored_at=stored.scored_at,
                        source=stored.source)
    assert public.source == "baseline"


def test_api_train_job_with_unset_optional_boolean_and_needs_source(sqlite_url: str,
                                                                     tmp_path: Path) -> None:
    """The issue's path: customers created through the API with an optional boolean left
    unset, then ``POST /v1/jobs/train``; ``GET /v1/customers/{id}/needs`` says the source."""
    import time

    from fastapi.testclient import TestClient

    from tailorcrm.api.app import create_app
    from tailorcrm.schema.fields import FieldSpec, FieldType
    from tailorcrm.settings import Settings

    data = planted_churn(200)
    with Store.open(sqlite_url) as store:
        tid = store.tenants.ensure("acme")
        key = store.keys.create(tid, ["admin"])[1]
        store.fields.add(tid, FieldSpec(entity="customer", name="vip", type=FieldType.BOOLEAN,
                                        feature=True))
        client = TestClient(create_app(Settings(database_url=sqlite_url,
                                                artifacts_dir=tmp_path), store))
        auth = {"Authorization": f"Bearer {key}"}
        for i, cid in enumerate(data.customers.index):
            body = {"attributes": {"vip": True}} if i % 4 == 0 else {}  # most leave it unset
            assert client.put(f"/v1/customers/{cid}", json=body, headers=auth).status_code in (
                200, 201)
        ev = data.events.rename(columns={"ts": "timestamp"})
        store.events.add(tid, ev[["customer_id", "item_id", "type", "value",
                                  "timestamp"]].to_dict("records"))
        from tailorcrm.needs.definitions import ChurnNeed, save_need

        save_need(store, tid, ChurnNeed(name="churn", horizon_days=60))
        r = client.post("/v1/jobs/train", json={"recommend": False, "precompute": False,
                                                "segments": False, "strategies": False},
                        headers=auth)
        assert r.status_code == 202, r.text
        job = r.json()["job_id"]
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            state = client.get(f"/v1/jobs/{job}", headers=auth).json()
            if state["status"] in ("succeeded", "failed"):
                break
            time.sleep(0.2)
        assert state["status"] == "succeeded", state
        needs = client.get(f"/v1/customers/{data.customers.index[0]}/needs",
                           headers=auth).json()["needs"]
        assert needs[0]["need"] == "churn" and needs[0]["source"] in ("model", "baseline")
        assert needs[0]["source"] == ("baseline" if needs[0]["model_version"].startswith(
            "baseline-") else "model")
