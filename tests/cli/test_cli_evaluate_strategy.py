"""``tailorcrm evaluate --strategy``: a stored strategy evaluated offline on the tenant's data."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from typer.testing import CliRunner

from tailorcrm.cli.main import app
from tailorcrm.customize.strategies import save_strategy
from tailorcrm.customize.templates import template
from tailorcrm.demo.config import DemoConfig
from tailorcrm.demo.generator import generate
from tailorcrm.demo.writer import MAPPINGS, write
from tailorcrm.ingest.mapping import load_mapping
from tailorcrm.ingest.service import run_import
from tailorcrm.store import Store

NOW = dt.datetime(2025, 7, 1, tzinfo=dt.UTC)


def test_evaluate_stored_strategy_beats_popularity(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'eval.db'}"
    store = Store.open(url)
    tid = store.tenants.ensure("acme")
    paths = write(generate(DemoConfig(seed=3, n_customers=250, n_items=60)), tmp_path / "files")
    for entity in ("customers", "items", "events"):
        run_import(store, tid, entity, paths[entity], load_mapping(MAPPINGS[entity]), now=NOW)
    save_strategy(store.configs, tid, template("homepage"))
    store.close()

    out = tmp_path / "eval.json"
    result = CliRunner().invoke(app, [
        "evaluate", "--strategy", "homepage", "--db", url, "--tenant", "acme",
        "--protocol", "leave-last-out", "--models", "popularity", "--no-default",
        "--json", str(out)])
    assert result.exit_code == 0, result.output
    doc = json.loads(out.read_text())
    models = doc["models"]
    assert set(models) == {"popularity", "strategy:homepage"}
    # planted tastes: the personalized strategy must beat plain popularity
    assert models["strategy:homepage"]["ndcg@10"] > models["popularity"]["ndcg@10"]


def test_evaluate_on_a_tenant_uses_its_stored_data(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'eval.db'}"
    store = Store.open(url)
    tid = store.tenants.ensure("acme")
    store.tenants.ensure("empty")
    paths = write(generate(DemoConfig(seed=4, n_customers=120, n_items=40)), tmp_path / "files")
    run_import(store, tid, "events", paths["events"], load_mapping(MAPPINGS["events"]), now=NOW)
    n_events = store.events.count(tid)
    store.close()
    out = tmp_path / "eval.json"
    result = CliRunner().invoke(app, [
        "evaluate", "--db", url, "--tenant", "acme", "--protocol", "leave-last-out",
        "--models", "popularity", "--no-default", "--json", str(out)])
    assert result.exit_code == 0, result.output
    doc = json.loads(out.read_text())
    assert doc["dataset"] == f"tenant:{tid}"
    assert doc["n_train_events"] + doc["n_test_events"] <= n_events
    assert len(doc["test_events_sha256"]) == 64
    # a tenant without events, and a tenant that does not exist, get clear errors
    empty = CliRunner().invoke(app, ["evaluate", "--db", url, "--tenant", "empty"])
    assert empty.exit_code != 0 and "--interactions" in empty.output
    missing = CliRunner().invoke(app, ["evaluate", "--db", url, "--tenant", "nobody"])
    assert missing.exit_code != 0 and "nobody" in missing.output
