"""Consent per purpose through the API on a real database: time, source, history; profiling
honoured by the need scores at the next request (no retraining) and by segment exports."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pandas as pd
import pytest
from api_helpers import Api, make_api, seed
from sqlalchemy import func, select

from tailorcrm.customize.export import export_segment
from tailorcrm.privacy.consent import PROFILING, WITHHELD_PROFILING, without_denied
from tailorcrm.store.consent import ConsentRepository
from tailorcrm.store.tables import ConsentChange


@pytest.fixture()
def api(database_url: str, tmp_path: Path) -> Api:
    made = make_api(database_url, tmp_path / "artifacts")
    seed(made)
    yield made  # type: ignore[misc]
    made.store.close()


def _history(api: Api, customer_id: str) -> list[dict[str, str]]:
    body = api.client.get(f"/v1/customers/{customer_id}/consent", headers=api.h("read"))
    assert body.status_code == 200, body.text
    return body.json()["history"]


def test_each_purpose_has_time_source_and_an_append_only_history(api: Api) -> None:
    put = api.client.put("/v1/customers/c1", json={"consent_profiling": "denied",
                                                   "consent_marketing": "granted"},
                         headers=api.h("write"))
    assert put.status_code == 200, put.text
    assert put.json()["consent_profiling"] == "denied"
    consent = api.client.get("/v1/customers/c1/consent", headers=api.h("read")).json()
    assert consent["purposes"]["profiling"]["state"] == "denied"
    assert consent["purposes"]["profiling"]["source"] == "api"
    assert consent["purposes"]["profiling"]["at"] is not None
    assert consent["purposes"]["personalization"] == {"state": "unknown", "at": None,
                                                      "source": None}
    assert [(h["purpose"], h["value"], h["source"]) for h in consent["history"]] == [
        ("marketing", "granted", "api"), ("profiling", "denied", "api")]
    # the same state again is no change; a batch change is one
    api.client.put("/v1/customers/c1", json={"consent_profiling": "denied"},
                   headers=api.h("write"))
    assert len(_history(api, "c1")) == 2
    batch = api.client.post("/v1/customers:batch", json={"customers": [
        {"customer_id": "c1", "consent_profiling": "granted"},
        {"customer_id": "c2", "consent_personalization": "denied"}]}, headers=api.h("write"))
    assert batch.status_code == 200, batch.text
    assert _history(api, "c1")[-1]["value"] == "granted"
    assert [h["purpose"] for h in _history(api, "c2")] == ["personalization"]
    api.store.customers.set_consent(api.tid, "c2", "profiling", "denied", source="cli")
    assert _history(api, "c2")[-1] == {**_history(api, "c2")[-1], "purpose": "profiling",
                                       "value": "denied", "source": "cli"}
    assert api.client.get("/v1/customers/nobody/consent",
                          headers=api.h("read")).status_code == 404


def test_an_import_records_its_changes_with_source_import(api: Api) -> None:
    frame = pd.DataFrame({"customer_id": ["c3", "c4", "c5", "ghost"],
                          "consent_marketing": ["denied", "unknown", "denied", "granted"],
                          "consent_profiling": ["granted", "unknown", "unknown", "denied"]})
    with api.store.engine.begin() as conn:
        changed = ConsentRepository.apply_import(conn, api.tid, frame)
    assert changed == 2  # c4 changes nothing; ghost is no customer
    assert [(h["purpose"], h["value"], h["source"]) for h in _history(api, "c3")] == [
        ("marketing", "denied", "import"), ("profiling", "granted", "import")]
    record = api.store.customers.get(api.tid, "c5")
    assert record.consent_marketing == "denied" and record.consent_marketing_source == "import"
    assert _history(api, "c4") == []


def test_denied_profiling_withholds_need_scores_at_the_next_request(api: Api) -> None:
    api.store.need_scores.replace(api.tid, "upgrade", [
        {"customer_id": "c1", "score": 0.8, "model_version": "v1", "reasons": []},
        {"customer_id": "c2", "score": 0.4, "model_version": "v1", "reasons": []}])
    before = api.client.get("/v1/customers/c1/needs", headers=api.h("read")).json()
    assert [n["need"] for n in before["needs"]] == ["upgrade"] and before["withheld"] is None
    api.client.put("/v1/customers/c1", json={"consent_profiling": "denied"},
                   headers=api.h("write"))
    after = api.client.get("/v1/customers/c1/needs", headers=api.h("read")).json()
    assert after == {"customer_id": "c1", "needs": [], "withheld": WITHHELD_PROFILING}
    other = api.client.get("/v1/customers/c2/needs", headers=api.h("read")).json()
    assert len(other["needs"]) == 1  # only the customer who denied
    api.client.put("/v1/customers/c1", json={"consent_profiling": "granted"},
                   headers=api.h("write"))
    again = api.client.get("/v1/customers/c1/needs", headers=api.h("read")).json()
    assert [n["score"] for n in again["needs"]] == [0.8]
    assert api.client.get("/v1/customers/nobody/needs",
                          headers=api.h("read")).status_code == 404


def test_scoring_leaves_out_customers_who_denied_profiling(api: Api) -> None:
    api.store.customers.set_consent(api.tid, "c7", "profiling", "denied")
    rows = [{"customer_id": f"c{i}", "score": 0.1} for i in range(10)]
    kept = without_denied(api.store, api.tid, PROFILING, rows)
    assert [r["customer_id"] for r in kept] == [f"c{i}" for i in range(10) if i != 7]


def test_segment_export_honours_marketing_and_profiling_now(api: Api) -> None:
    api.store.segments.replace(api.tid, "rfm", {"c1": "vip", "c2": "vip", "c3": "vip"})
    api.client.put("/v1/customers/c2", json={"consent_marketing": "denied"},
                   headers=api.h("write"))
    api.client.put("/v1/customers/c3", json={"consent_profiling": "denied"},
                   headers=api.h("write"))
    out = io.StringIO()
    report = export_segment(api.store, api.tid, "rfm", "vip", out)
    exported = [r["customer_id"] for r in csv.DictReader(io.StringIO(out.getvalue()))]
    assert exported == ["c1"]
    assert (report.consent_denied, report.profiling_denied) == (1, 1)


def test_erasure_deletes_the_consent_history(api: Api) -> None:
    api.client.put("/v1/customers/c9", json={"consent_profiling": "denied"},
                   headers=api.h("write"))
    api.store.erasures.erase(api.tid, "c9", actor="test")

    def held() -> int:
        with api.store.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(ConsentChange).where(
                ConsentChange.tenant_id == api.tid,
                ConsentChange.customer_id == "c9")).scalar_one())

    assert held() == 0
