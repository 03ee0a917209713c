"""``tailorcrm experiments`` end to end on SQLite and PostgreSQL: put a TOML file, serve lists
through the API, report (tables and JSON), refuse a bad file naming the field, stop and
promote with the audit entry."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import tomli_w
from experiment_helpers import Tenant, experiment_body, trained_tenant
from typer.testing import CliRunner

from tailorcrm.cli import common
from tailorcrm.cli.main import app


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres",
                                                               marks=pytest.mark.postgres)])
def served(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[tuple[Tenant, str]]:
    folder = tmp_path_factory.mktemp("exp-cli")
    url = f"sqlite:///{folder / 'db.sqlite'}" if request.param == "sqlite" else str(
        request.getfixturevalue("postgres_module_url"))
    t = trained_tenant(url, folder / "artifacts")
    yield t, url
    t.store.close()


def _cli(url: str, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, [*args, "--db", url, "--tenant", "acme"])
    return result.exit_code, result.output


def test_the_cli_runs_an_experiment(served: tuple[Tenant, str], tmp_path: Path,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    t, url = served
    monkeypatch.setattr(common.console, "width", 200)  # whole table cells
    body = experiment_body("cli-test")
    file = tmp_path / "cli-test.toml"
    file.write_text(tomli_w.dumps(body))
    code, out = _cli(url, "experiments", "put", str(file))
    assert code == 0 and "version 1" in out, out

    bad = tmp_path / "bad.toml"
    bad.write_text(tomli_w.dumps({**body, "name": "bad", "primary_metric": "happiness"}))
    code, out = _cli(url, "experiments", "put", str(bad))
    assert code != 0 and "primary_metric" in out, out

    ids = {}
    for c in range(0, 120, 3):
        r = t.client.get(f"/v1/customers/c{c}/recommendations?strategy=homepage",
                         headers=t.h("read"))
        ids[f"c{c}"] = r.json()["recommendation_id"]
    t.flush()
    now = dt.datetime.now(dt.UTC).isoformat()
    events = [{"customer_id": c, "item_id": "i1", "type": "purchase", "value": 3.0, "ts": now,
               "attributes": {"recommendation_id": rid}} for c, rid in list(ids.items())[:12]]
    assert t.client.post("/v1/events", json=events, headers=t.h("write")).status_code == 200

    code, out = _cli(url, "experiments", "list")
    assert code == 0 and "cli-test" in out and "40" in out, out
    code, out = _cli(url, "experiments", "report", "cli-test")
    assert code == 0, out
    assert "conversion (primary), two-proportion z test" in out and "Welch" in out
    assert "sample ratio" in out and "under-powered" in out
    code, out = _cli(url, "experiments", "report", "cli-test", "--json")
    assert code == 0, out
    res = json.loads(out)
    last = res["views"]["last_touch"]
    assert sum(v["customers"] for v in last) == 40
    assert sum(v["metrics"]["conversion"]["total"] for v in last) == 12
    assert res["exact_attributions"] == 12

    code, out = _cli(url, "experiments", "stop", "cli-test", "--promote", "--winner", "nope")
    assert code == 3 and "winner" in out, out  # ValidationError's exit code
    code, out = _cli(url, "experiments", "stop", "cli-test", "--promote", "--winner",
                     "diverse")
    assert code == 0 and "promoted 'diverse' to strategy:homepage" in out, out
    entry = t.store.audit.list(t.tid, action="experiment.stop")[0]
    assert entry.actor == "cli" and entry.details["winner"] == "diverse"
    code, out = _cli(url, "experiments", "get", "cli-test", "--format", "json")
    assert code == 0 and json.loads(out)["status"] == "stopped"
    code, out = _cli(url, "experiments", "report", "missing")
    assert code == 4, out
