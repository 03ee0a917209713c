"""``tailorcrm privacy`` and ``tailorcrm audit`` against a real database."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from api_helpers import Api, make_api, seed
from typer.testing import CliRunner

from tailorcrm.cli.main import app
from tailorcrm.errors import NotFoundError, ValidationError

runner = CliRunner()


@pytest.fixture()
def api(database_url: str, tmp_path: Path) -> Api:
    made = make_api(database_url, tmp_path / "artifacts", slug="demo")
    seed(made)
    yield made  # type: ignore[misc]
    made.store.close()


def _env(api: Api, tmp_path: Path) -> dict[str, str]:
    return {"TAILORCRM_DATABASE_URL": api.store.engine.url.render_as_string(
        hide_password=False), "TAILORCRM_TENANT": "demo",
        "TAILORCRM_ARTIFACTS_DIR": str(tmp_path / "artifacts")}


def test_erase_one_a_file_unsuppress_vacuum_and_the_audit(api: Api, tmp_path: Path) -> None:
    env = _env(api, tmp_path)
    one = runner.invoke(app, ["privacy", "erase", "c1"], env=env)
    assert one.exit_code == 0, one.output
    assert "events 5" in one.output and "c1" not in one.output
    missing = runner.invoke(app, ["privacy", "erase", "c1"], env=env)
    assert missing.exit_code == NotFoundError.exit_code
    ids = tmp_path / "ids.txt"
    ids.write_text("# erasure requests of the week\nc2\n\nc3\nnobody\n")
    batch = runner.invoke(app, ["privacy", "erase", "--file", str(ids)], env=env)
    assert batch.exit_code == 0, batch.output
    assert "erased 2 customer(s); 1 not found" in batch.output
    assert not any(api.store.holds_customer(api.tid, c) for c in ("c1", "c2", "c3"))
    ids.write_text("c4\nbad\x07id\n")
    bad = runner.invoke(app, ["privacy", "erase", "--file", str(ids)], env=env)
    assert bad.exit_code == ValidationError.exit_code and "line 2" in bad.output
    assert api.store.holds_customer(api.tid, "c4")  # nothing erased from a bad file
    both = runner.invoke(app, ["privacy", "erase", "c4", "--file", str(ids)], env=env)
    assert both.exit_code == ValidationError.exit_code
    lifted = runner.invoke(app, ["privacy", "unsuppress", "c2"], env=env)
    assert lifted.exit_code == 0, lifted.output
    assert api.client.put("/v1/customers/c2", json={"attributes": {}},
                          headers=api.h("write")).status_code == 200
    vacuum = runner.invoke(app, ["privacy", "vacuum"], env=env)
    assert vacuum.exit_code == 0 and api.store.backend in vacuum.output
    listed = runner.invoke(app, ["audit", "list", "--json"], env=env)
    assert listed.exit_code == 0, listed.output
    entries = json.loads(listed.output)
    assert [e["action"] for e in entries] == [
        "privacy.reclaim", "privacy.suppression_lift", "privacy.reclaim", "privacy.erase",
        "privacy.erase", "privacy.erase"]
    assert {e["actor"] for e in entries} == {"cli"}
    table = runner.invoke(app, ["audit", "list", "--action", "privacy.erase"], env=env)
    assert table.exit_code == 0 and table.output.count("privacy.erase") == 3
