"""Erased ids stay out: imports, upserts and events refuse them per row with one reason until
the tenant lifts the suppression (audited); good rows are kept."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from api_helpers import Api, make_api, seed

from tailorcrm.errors import NotFoundError, ValidationError
from tailorcrm.ingest.mapping import load_mapping
from tailorcrm.ingest.service import run_import
from tailorcrm.privacy import suppression
from tailorcrm.store.tombstones import SUPPRESSED_REASON

CUSTOMERS_CSV = "customer_id,region\nc1,north\nc2,south\nc3,east\n"
MAPPING = """
name = "test-customers"
entity = "customers"
[source]
format = "csv"
[fields]
customer_id = "customer_id"
[[attributes]]
column = "region"
field = "region"
type = "string"
"""


@pytest.fixture()
def api(database_url: str, tmp_path: Path) -> Api:
    made = make_api(database_url, tmp_path / "artifacts")
    seed(made)
    yield made  # type: ignore[misc]
    made.store.close()


def _import(api: Api, tmp_path: Path) -> dict[str, object]:
    path = tmp_path / "customers.csv"
    path.write_text(CUSTOMERS_CSV)
    mapping = tmp_path / "customers.toml"
    mapping.write_text(MAPPING)
    return run_import(api.store, api.tid, "customers", path,
                      load_mapping(mapping)).report.as_dict()


def test_an_old_file_does_not_bring_an_erased_customer_back(api: Api, tmp_path: Path) -> None:
    assert api.client.delete("/v1/customers/c2", headers=api.h("write")).status_code == 204
    report = _import(api, tmp_path)
    assert report["rows_loaded"] == 2 and report["rows_rejected"] == 1  # good rows kept
    assert report["errors_by_field"] == {"customer_id": 1}
    assert report["errors_by_reason"] == {SUPPRESSED_REASON: 1}
    assert not api.store.holds_customer(api.tid, "c2")
    assert api.store.customers.get(api.tid, "c3").attributes["region"] == "east"
    assert api.store.imports.quarantine(api.tid) == []  # no copy of the erased row kept


def test_api_writes_of_a_suppressed_id_are_refused_per_row(api: Api) -> None:
    assert api.client.delete("/v1/customers/c2", headers=api.h("write")).status_code == 204
    put = api.client.put("/v1/customers/c2", json={"attributes": {}}, headers=api.h("write"))
    assert put.status_code == 422
    err = put.json()["error"]["details"]["errors"][0]
    assert (err["row"], err["field"], err["reason"]) == (0, "customer_id", SUPPRESSED_REASON)
    batch = api.client.post("/v1/customers:batch", headers=api.h("write"), json={
        "customers": [{"customer_id": "new-1"}, {"customer_id": "c2"}]})
    assert batch.status_code == 422
    assert [(e["row"], e["field"]) for e in batch.json()["error"]["details"]["errors"]] == [
        (1, "customer_id")]
    event = api.client.post("/v1/events", headers=api.h("write"), json={
        "customer_id": "c2", "item_id": "i1", "type": "view"})
    assert event.status_code == 422 and SUPPRESSED_REASON in event.text
    assert not api.store.holds_customer(api.tid, "c2")


def test_lifting_the_suppression_is_admin_only_and_audited(api: Api, tmp_path: Path) -> None:
    assert api.client.delete("/v1/customers/c2", headers=api.h("write")).status_code == 204
    assert suppression.is_suppressed(api.store, api.tid, "c2")
    body = {"customer_id": "c2"}
    assert api.client.post("/v1/privacy/suppressions:lift", json=body,
                           headers=api.h("write")).status_code == 403
    r = api.client.post("/v1/privacy/suppressions:lift", json=body, headers=api.h("admin"))
    assert r.status_code == 200 and r.json()["lifted"] is True
    assert not suppression.is_suppressed(api.store, api.tid, "c2")
    again = api.client.post("/v1/privacy/suppressions:lift", json=body, headers=api.h("admin"))
    assert again.status_code == 404
    assert _import(api, tmp_path)["rows_rejected"] == 0
    assert api.store.holds_customer(api.tid, "c2")
    entries = api.client.get("/v1/audit", headers=api.h()).json()["entries"]
    assert [e["action"] for e in entries][:2] == ["privacy.suppression_lift", "privacy.erase"]
    assert entries[0]["target"] == entries[1]["target"] != "c2"
    assert entries[1]["details"]["via"] == "DELETE"
    # erased again later: suppressed again
    assert api.client.delete("/v1/customers/c2", headers=api.h("write")).status_code == 204
    assert suppression.is_suppressed(api.store, api.tid, "c2")


def test_unknown_ids(api: Api) -> None:
    with pytest.raises(NotFoundError):
        suppression.lift(api.store, api.tid, "never-erased", "cli")
    assert api.client.delete("/v1/customers/nobody", headers=api.h("write")).status_code == 404
    assert api.client.get("/v1/audit", headers=api.h()).json()["entries"] == []
    with pytest.raises(ValidationError):
        api.store.customers.upsert(api.tid, [{"customer_id": ""}])


def test_an_import_running_during_an_erasure_does_not_bring_the_customer_back(
        api: Api, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The erasure commits after the import's suppression check, before its write (the
    write is wrapped to let a real erasure commit first, on another connection)."""
    loading = api.store.loading
    write_chunk = loading.write_chunk
    fired: list[int] = []

    def erase_then_write(*args: Any, **kwargs: Any) -> int:
        if not fired:
            fired.append(1)
            api.store.erasures.erase(api.tid, "c2", actor="test")
        return write_chunk(*args, **kwargs)

    monkeypatch.setattr(loading, "write_chunk", erase_then_write)
    report = _import(api, tmp_path)
    assert fired and report["rows_rejected"] == 0  # the check ran before the erasure
    assert not api.store.holds_customer(api.tid, "c2")
    assert suppression.is_suppressed(api.store, api.tid, "c2")
    assert api.store.holds_customer(api.tid, "c3")


def test_an_upsert_racing_an_erasure_is_rolled_back(api: Api,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """The erasure commits after the upsert's suppression check, before its write."""
    customers = api.store.customers
    write = customers._write
    fired: list[int] = []

    def erase_then_write(conn: Any, records: Any) -> None:
        if not fired:
            fired.append(1)
            api.store.erasures.erase(api.tid, "c2", actor="test")  # another connection
        write(conn, records)

    monkeypatch.setattr(customers, "_write", erase_then_write)
    with pytest.raises(ValidationError) as refused:
        customers.upsert(api.tid, [{"customer_id": "c1"}, {"customer_id": "c2"}])
    assert refused.value.details["errors"][0]["reason"] == SUPPRESSED_REASON
    assert fired and not api.store.holds_customer(api.tid, "c2")
    assert suppression.is_suppressed(api.store, api.tid, "c2")


def test_events_racing_an_erasure_are_rolled_back(api: Api,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """The customer exists when the events are checked and is erased before they are
    written: no event of theirs may stay behind."""
    events = api.store.events
    references = events._references
    fired: list[int] = []

    def check_then_erase(*args: Any, **kwargs: Any) -> Any:
        found = references(*args, **kwargs)
        if not fired:
            fired.append(1)
            api.store.erasures.erase(api.tid, "c2", actor="test")  # another connection
        return found

    monkeypatch.setattr(events, "_references", check_then_erase)
    with pytest.raises(ValidationError) as refused:
        events.add(api.tid, [{"customer_id": "c2", "item_id": "i1", "type": "view",
                              "ts": "2025-02-01T00:00:00Z"}])
    assert refused.value.details["errors"][0]["reason"] == SUPPRESSED_REASON
    assert fired and events.for_customer(api.tid, "c2") == []
