"""``tailorcrm needs define|list|train|score|explain`` against a real SQLite file."""

from __future__ import annotations

import sys
from pathlib import Path

from typer.testing import CliRunner

from tailorcrm.cli.main import app
from tailorcrm.errors import ConfigError, NotFoundError, ValidationError
from tailorcrm.store import Store

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "needs"))
from demo_tenant import seed_demo

runner = CliRunner()


def test_define_train_score_explain(sqlite_url: str, tmp_path: Path) -> None:
    store = Store.open(sqlite_url)
    try:
        seed_demo(store)
        customer = str(store.load_dataset(store.tenants.id_of("default")).customers.index[0])
    finally:
        store.close()
    env = {"TAILORCRM_DATABASE_URL": sqlite_url, "TAILORCRM_TENANT": "default"}
    need = tmp_path / "churn.toml"
    need.write_text('kind = "churn"\nname = "churn"\nhorizon_days = 90\n')
    out = runner.invoke(app, ["needs", "define", str(need)], env=env)
    assert out.exit_code == 0, out.output
    bad = tmp_path / "bad.toml"
    bad.write_text('kind = "churn"\nname = "x"\nhorizon = 3\n')
    out = runner.invoke(app, ["needs", "define", str(bad)], env=env)
    assert out.exit_code == ConfigError.exit_code
    out = runner.invoke(app, ["needs", "list"], env=env)
    assert "churn" in out.output
    out = runner.invoke(app, ["needs", "score", "churn"], env=env)
    assert out.exit_code == NotFoundError.exit_code
    out = runner.invoke(app, ["needs", "train", "churn", "--artifacts", str(tmp_path / "a")],
                        env=env)
    assert out.exit_code == 0, out.output
    assert "grade" in out.output and "customers scored" in out.output
    out = runner.invoke(app, ["needs", "score", "churn", "--top", "3"], env=env)
    assert out.exit_code == 0 and "churn risk" in out.output
    out = runner.invoke(app, ["needs", "explain", "churn", customer], env=env)
    assert out.exit_code == 0 and customer in out.output and "churn risk" in out.output
    out = runner.invoke(app, ["needs", "train", "nope"], env=env)
    assert out.exit_code == NotFoundError.exit_code


def test_define_names_item_ids_that_match_no_item(sqlite_url: str, tmp_path: Path) -> None:
    store = Store.open(sqlite_url)
    try:
        tid = seed_demo(store)
        item = str(store.load_dataset(tid).items.index[0])
    finally:
        store.close()
    env = {"TAILORCRM_DATABASE_URL": sqlite_url, "TAILORCRM_TENANT": "default"}
    need = tmp_path / "buy.toml"
    need.write_text(f'kind = "propensity"\nname = "buy"\nitems = ["{item} ", "{item}"]\n')
    out = runner.invoke(app, ["needs", "define", str(need)], env=env)
    assert out.exit_code == ValidationError.exit_code, out.output
    assert f"'{item} ' matches no item (did you mean '{item}'?)" in " ".join(out.output.split())
    need.write_text(f'kind = "propensity"\nname = "buy"\nitems = ["{item}"]\n')
    out = runner.invoke(app, ["needs", "define", str(need)], env=env)
    assert out.exit_code == 0, out.output
