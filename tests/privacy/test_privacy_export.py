"""Access and portability: the export holds everything stored about the customer, machine-
readable with a manifest; admin only; audited; the CLI writes the same document."""

from __future__ import annotations

import json
from pathlib import Path

from privacy_helpers import Demo, unique_customer
from typer.testing import CliRunner

from tailorcrm.cli.main import app

runner = CliRunner()


def test_the_export_holds_everything_about_the_customer(demo: Demo, tmp_path: Path) -> None:
    store, tid = demo.store, demo.tid
    cid, values = unique_customer(store, tid)
    assert demo.client.get(f"/v1/customers/{cid}/export",
                           headers=demo.h("write")).status_code == 403
    r = demo.client.get(f"/v1/customers/{cid}/export", headers=demo.h())
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc["format"] == "tailorcrm.customer-export/v1" and doc["customer_id"] == cid
    assert set(doc["manifest"]) == {"profile", "custom_fields", "consent", "consent_history",
                                    "events", "feedback", "segments", "need_scores",
                                    "recommendations"}
    assert all(doc["manifest"][k]["description"] for k in doc["manifest"])
    stored = store.customers.get(tid, cid)
    assert doc["profile"]["customer_id"] == cid
    fields = {f["name"]: f for f in doc["custom_fields"]}
    assert {k: fields[k]["value"] for k in stored.attributes} == stored.attributes
    pii = {f["name"] for f in doc["custom_fields"] if f.get("pii")}
    assert pii == {"contact_name", "contact_email"}
    assert all(v in r.text for v in values)
    assert doc["consent"]["personalization"]["state"] == stored.consent_personalization
    n_events = len(store.events.for_customer(tid, cid, limit=1_000_000))
    assert len(doc["events"]) == doc["manifest"]["events"]["count"] == n_events > 0
    assert doc["segments"] == store.segments.of_customer(tid, cid) != {}
    needs = {s["need"]: s for s in doc["need_scores"]}
    assert set(needs) == set(store.need_scores.for_customer(tid, cid)) != set()
    assert all(s["reasons"] for s in needs.values())
    assert doc["recommendations"] and all(rec["items"] for rec in doc["recommendations"])
    assert any("reason" in json.dumps(rec["items"]) for rec in doc["recommendations"])
    entry = store.audit.list(tid, action="privacy.export")[0]
    assert entry.details["counts"]["events"] == n_events and cid not in json.dumps(
        entry.model_dump(mode="json"))

    out = tmp_path / "export.json"
    env = {"TAILORCRM_DATABASE_URL": demo.url, "TAILORCRM_TENANT": "demo",
           "TAILORCRM_ARTIFACTS_DIR": str(demo.artifacts)}
    done = runner.invoke(app, ["privacy", "export", cid, "--out", str(out)], env=env)
    assert done.exit_code == 0, done.output
    cli_doc = json.loads(out.read_text())
    for part in ("profile", "custom_fields", "events", "segments", "need_scores"):
        assert cli_doc[part] == doc[part], part
    assert demo.client.get("/v1/customers/nobody/export", headers=demo.h()).status_code == 404
