"""``tailorcrm recommend show|batch`` against a real SQLite file."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from tailorcrm.cli.main import app
from tailorcrm.store import Store

runner = CliRunner()


def _seed(url: str) -> None:
    store = Store.open(url)
    tid = store.tenants.ensure("shop")
    groups = {"tent": "outdoor", "stove": "outdoor", "lamp": "outdoor",
              "pan": "kitchen", "knife": "kitchen", "oven": "kitchen"}
    store.items.upsert(tid, [{"item_id": i, "title": i.title(), "categories": [g]}
                             for i, g in groups.items()])
    customers = [f"c{i}" for i in range(12)]
    store.customers.upsert(tid, [{"customer_id": c} for c in customers])
    events = []
    for i, c in enumerate(customers):
        own = ["tent", "stove", "lamp"] if i % 2 else ["pan", "knife", "oven"]
        events += [{"customer_id": c, "item_id": it, "type": "purchase",
                    "ts": f"2025-01-{d + 1:02d}T00:00:00Z"}
                   for d, it in enumerate(own[: 2 + (i % 3 > 0)])]
    store.events.add(tid, events)
    store.close()


def test_show_and_batch(sqlite_url: str) -> None:
    _seed(sqlite_url)
    env = {"TAILORCRM_DATABASE_URL": sqlite_url, "TAILORCRM_TENANT": "shop"}
    shown = runner.invoke(app, ["recommend", "show", "c0", "--n", "3", "--json"], env=env)
    assert shown.exit_code == 0, shown.output
    items = json.loads(shown.output)
    assert items and all(r["reasons"] for r in items)
    bought = {"pan", "knife"}  # c0 bought these: never shown again
    assert not {r["item_id"] for r in items} & bought
    done = runner.invoke(app, ["recommend", "batch", "--strategy", "nightly"], env=env)
    assert done.exit_code == 0, done.output
    store = Store.open(sqlite_url)
    tid = store.tenants.id_of("shop")
    stored = store.recommendations.get(tid, "nightly", "c1")
    assert stored is not None and stored.items
    store.close()
    missing = runner.invoke(app, ["recommend", "show", "c0"],
                            env={**env, "TAILORCRM_TENANT": "nobody"})
    assert missing.exit_code == 4  # NotFoundError


def test_show_for_a_customer_that_does_not_exist_fails(sqlite_url: str) -> None:
    _seed(sqlite_url)
    env = {"TAILORCRM_DATABASE_URL": sqlite_url, "TAILORCRM_TENANT": "shop"}
    shown = runner.invoke(app, ["recommend", "show", "nobody", "--json"], env=env)
    assert shown.exit_code != 0
    assert "no customer 'nobody'" in shown.output
    padded = runner.invoke(app, ["recommend", "show", " c0 ", "--n", "2", "--json"], env=env)
    assert padded.exit_code == 0, padded.output
