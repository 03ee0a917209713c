"""Retention per tenant on a real database: the default keeps everything and says so; set,
``tailorcrm retention run`` and the training job delete older events, with an audit entry."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from api_helpers import Api, make_api, seed
from typer.testing import CliRunner

from tailorcrm.cli.main import app
from tailorcrm.jobs.train import TrainConfig, train_tenant
from tailorcrm.privacy.retention import RETAIN, apply_retention

runner = CliRunner()
PLANTED_EVENTS = 200  # seed(): 40 customers x 5 purchases in January 2025
RECENT_EVENTS = 100  # the fixture's: customer i buys (i % 4) + 1 times two days ago


@pytest.fixture()
def api(database_url: str, tmp_path: Path) -> Api:
    made = make_api(database_url, tmp_path / "artifacts")
    seed(made)
    recent = dt.datetime.now(dt.UTC) - dt.timedelta(days=2)
    made.store.events.add(made.tid, [
        {"idempotency_key": f"recent-{i}-{j}", "customer_id": f"c{i}", "item_id": f"i{j + i % 7}",
         "type": "purchase", "value": float(1 + i), "ts": (recent + dt.timedelta(
             hours=j)).isoformat()} for i in range(40) for j in range(i % 4 + 1)])
    yield made  # type: ignore[misc]
    made.store.close()


def _events(api: Api) -> int:
    return api.store.events.count(api.tid)


def _env(api: Api, tmp_path: Path) -> dict[str, str]:
    return {"TAILORCRM_DATABASE_URL": api.store.engine.url.render_as_string(
        hide_password=False), "TAILORCRM_TENANT": "acme",
        "TAILORCRM_ARTIFACTS_DIR": str(tmp_path / "artifacts")}


def test_the_default_keeps_everything_and_says_so(api: Api, tmp_path: Path) -> None:
    settings = api.client.get("/v1/settings", headers=api.h("read")).json()
    assert settings["retention_days"] is None
    assert settings["retention"].startswith("keep everything")
    outcome = apply_retention(api.store, api.tid, "test")
    assert (outcome.days, outcome.deleted, outcome.audit_id) == (None, 0, None)
    run = runner.invoke(app, ["retention", "run"], env=_env(api, tmp_path))
    assert run.exit_code == 0, run.output
    assert "keep everything" in run.output
    assert _events(api) == PLANTED_EVENTS + RECENT_EVENTS
    assert api.store.audit.list(api.tid, action=RETAIN) == []


def test_retention_run_deletes_older_events_with_an_audit_entry(api: Api,
                                                               tmp_path: Path) -> None:
    put = api.client.put("/v1/settings", json={"retention_days": 30}, headers=api.h("admin"))
    assert put.status_code == 200, put.text
    assert put.json()["retention"] == "events older than 30 days are deleted"
    env = _env(api, tmp_path)
    dry = runner.invoke(app, ["retention", "run", "--dry-run"], env=env)
    assert dry.exit_code == 0 and f"{PLANTED_EVENTS} event(s)" in dry.output, dry.output
    assert _events(api) == PLANTED_EVENTS + RECENT_EVENTS
    run = runner.invoke(app, ["retention", "run"], env=env)
    assert run.exit_code == 0, run.output
    assert f"deleted {PLANTED_EVENTS} event(s)" in run.output
    assert _events(api) == RECENT_EVENTS  # the recent ones stay
    [entry] = api.store.audit.list(api.tid, action=RETAIN)
    assert entry.actor == "cli" and entry.details["events_deleted"] == PLANTED_EVENTS
    assert entry.details["retention_days"] == 30 and set(entry.details) == {
        "events_deleted", "retention_days", "cutoff"}
    assert api.client.put("/v1/settings", json={"retention_days": 0},
                          headers=api.h("admin")).status_code == 422
    # what GET answers can be sent back as it is (its `retention` is read-only)
    echoed = api.client.get("/v1/settings", headers=api.h("read")).json()
    again = api.client.put("/v1/settings", json={**echoed, "retention": "ignored"},
                           headers=api.h("admin"))
    assert again.status_code == 200 and again.json()["retention_days"] == 30


def test_the_training_job_applies_retention_first(api: Api, tmp_path: Path) -> None:
    api.client.put("/v1/settings", json={"retention_days": 10}, headers=api.h("admin"))
    report = train_tenant(api.store, api.tid, tmp_path / "artifacts",
                          TrainConfig(recommend=False, needs=False, segments=True,
                                      strategies=False))
    assert report.events == RECENT_EVENTS  # trained on what retention kept
    [entry] = api.store.audit.list(api.tid, action=RETAIN)
    assert entry.actor == "job:train" and entry.details["events_deleted"] == PLANTED_EVENTS
