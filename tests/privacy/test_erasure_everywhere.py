"""Erasure reaches everything: after erasing a demo customer, no database file, table, artifact
or log line holds their id or a pii value, and no API route answers with their data."""

from __future__ import annotations

import json
from pathlib import Path

from privacy_helpers import Demo, api_get_all, file_hits, hits, unique_customer
from sqlalchemy import inspect, text

from tailorcrm.demo.writer import MAPPINGS
from tailorcrm.ingest.mapping import load_mapping
from tailorcrm.ingest.service import run_import


def _quarantine_a_row(demo: Demo, customer_id: str) -> None:
    """Import one bad event of the customer, so the quarantine holds a copy of their data."""
    lines = (demo.work / "events.csv").read_text().splitlines()
    theirs = next(line for line in lines[1:] if f",{customer_id}," in line)
    cells = theirs.split(",")
    cells[0], cells[5] = "bad-row-1", "not-a-time"
    bad = demo.work / "bad_events.csv"
    bad.write_text(lines[0] + "\n" + ",".join(cells) + "\n")
    report = run_import(demo.store, demo.tid, "events", bad,
                        load_mapping(MAPPINGS["events"])).report
    assert report.rows_rejected == 1


def _database_hits(demo: Demo, needles: list[str]) -> dict[str, list[str]]:
    """Needles in the database: the SQLite file, WAL and shared memory; on PostgreSQL every
    table's rows as text."""
    store = demo.store
    if store.backend == "sqlite":
        db = Path(store.engine.url.database or "")
        return {p.name: hits(p.read_bytes(), needles)
                for p in (db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm"))
                if p.is_file() and hits(p.read_bytes(), needles)}
    found: dict[str, list[str]] = {}
    with store.engine.connect() as conn:
        for table in inspect(conn).get_table_names():
            for needle in needles:
                n = conn.execute(text(f'SELECT count(*) FROM "{table}" AS t '
                                      f"WHERE t::text LIKE :pattern"),
                                 {"pattern": f"%{needle}%"}).scalar_one()
                if n:
                    found.setdefault(table, []).append(needle)
    return found


def test_an_erased_customer_is_nowhere(demo: Demo) -> None:
    store, tid, client = demo.store, demo.tid, demo.client
    cid, values = unique_customer(store, tid)
    _quarantine_a_row(demo, cid)
    # served before: lists, needs, actions come from memory and the caches
    before = api_get_all(client, demo.h("admin"), cid)
    assert before["/v1/customers/{customer_id}"][0] == 200
    assert before["/v1/customers/{customer_id}/recommendations"][0] == 200
    assert any(v in body for _, body in before.values() for v in values)
    # every place holds them now (the search is not blind)
    assert _database_hits(demo, values), "the database search finds nothing even before"
    assert file_hits(demo.artifacts, [cid]), "the artifact search finds nothing even before"

    r = client.delete(f"/v1/customers/{cid}", params={"erase": "true"}, headers=demo.h())
    assert r.status_code == 200, r.text
    receipt = r.json()
    assert receipt["removed"]["customers"] == 1 and receipt["removed"]["events"] > 0
    assert receipt["removed"]["quarantine"] == 1
    assert receipt["removed"]["need_scores"] > 0 and receipt["removed"]["customer_segments"] > 0
    assert receipt["artifacts"] > 0 and cid not in r.text

    assert _database_hits(demo, values) == {}
    assert file_hits(demo.artifacts, values) == {}
    assert [line for line in demo.logs.lines if any(v in line for v in values)] == []
    after = api_get_all(client, demo.h("admin"), cid)
    for path, (status, body) in after.items():
        assert status == 404 or (status == 200 and not json.loads(body).get("items")), \
            (path, status, body)
        assert not any(v in body for v in values[1:]), (path, body)
    # the audit entry names a keyed hash and counts, never the id
    audit = client.get("/v1/audit", params={"action": "privacy.erase"}, headers=demo.h())
    assert audit.status_code == 200, audit.text
    entry = audit.json()["entries"][0]
    assert entry["target"] == receipt["target"] and entry["details"]["removed"]["events"] > 0
    assert entry["actor"].startswith("key:") and cid not in audit.text
    # artifacts still load: the served model keeps working for everyone else
    other = next(c.customer_id for c in store.customers.list(tid))
    assert client.get(f"/v1/customers/{other}/recommendations",
                      headers=demo.h("read")).status_code == 200
