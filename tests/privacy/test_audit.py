"""The audit log is append-only (the database refuses UPDATE and DELETE), tenant-scoped, and
names customers by keyed hash only; batch erasure writes one entry per erased id."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from api_helpers import Api, make_api, seed
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from tailorcrm.privacy.audit import audit_action, customer_target
from tailorcrm.store.audit import AuditRepository


@pytest.fixture()
def api(database_url: str, tmp_path: Path) -> Api:
    made = make_api(database_url, tmp_path / "artifacts")
    seed(made)
    yield made  # type: ignore[misc]
    made.store.close()


def test_entries_cannot_be_changed_or_deleted(api: Api) -> None:
    entry = audit_action(api.store, api.tid, "cli", "test.action", "t", {"n": 1})
    for sql in ("UPDATE audit_log SET action = 'forged' WHERE id = :id",
                "DELETE FROM audit_log WHERE id = :id"):
        with pytest.raises(DBAPIError, match="append-only"), api.store.engine.begin() as conn:
            conn.execute(text(sql), {"id": entry})
    [kept] = api.store.audit.list(api.tid)
    assert (kept.id, kept.action, kept.details) == (entry, "test.action", {"n": 1})
    assert not any(hasattr(AuditRepository, m) for m in ("update", "delete", "remove"))


def test_the_log_is_tenant_scoped_and_pages(api: Api) -> None:
    other = api.store.tenants.ensure("other")
    for n in range(5):
        audit_action(api.store, api.tid, "cli", f"test.{n}")
    audit_action(api.store, other, "cli", "test.other")
    first = api.client.get("/v1/audit", params={"limit": 2}, headers=api.h()).json()
    assert [e["action"] for e in first["entries"]] == ["test.4", "test.3"]
    second = api.client.get("/v1/audit", params={"limit": 2, "before_id":
                                                 first["next_before_id"]},
                            headers=api.h()).json()
    assert [e["action"] for e in second["entries"]] == ["test.2", "test.1"]
    prefix = api.client.get("/v1/audit", params={"action": "test."}, headers=api.h()).json()
    assert len(prefix["entries"]) == 5 and "test.other" not in str(prefix)
    assert api.client.get("/v1/audit", headers=api.h("write")).status_code == 403


def test_batch_erasure_audits_each_id_by_hash(api: Api) -> None:
    r = api.client.post("/v1/privacy/erasures", headers=api.h(),
                        json={"customer_ids": ["c1", "c3", "nobody", "c1"]})
    assert r.status_code == 200, r.text
    assert (r.json()["erased"], r.json()["not_found"]) == (2, 1)
    assert not api.store.holds_customer(api.tid, "c1")
    assert not api.store.holds_customer(api.tid, "c3")
    entries = api.store.audit.list(api.tid, action="privacy.erase")
    assert sorted(e.id for e in entries) == sorted(r.json()["audit_ids"])
    assert {e.target for e in entries} == {customer_target(api.store, api.tid, c)
                                           for c in ("c1", "c3")}
    assert all(e.details["removed"]["events"] == 5 and e.details["via"] == "api"
               for e in entries)
    assert not any(c in (e.target, e.actor) or f'"{c}"' in json.dumps(e.details)
                   for e in entries for c in ("c1", "c3"))
    assert api.client.post("/v1/privacy/erasures", headers=api.h("write"),
                           json={"customer_ids": ["c5"]}).status_code == 403
