"""``tailorcrm rules|strategies|actions|export`` against a real SQLite file."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tailorcrm.cli.main import app
from tailorcrm.errors import NotFoundError, RuleError
from tailorcrm.schema.fields import FieldSpec, FieldType
from tailorcrm.store import Store

runner = CliRunner()

RULES_TOML = """
[[filters]]
name = "stock"
expression = "item.available"

[[boosters]]
name = "preferred-category"
when = "item.category in customer.preferred_categories"
factor = 2.0
"""

STRATEGY_TOML = """
name = "homepage"
description = "Popular items, one per category"
models = [{ kind = "popularity" }]
fallback = []
rules = "shop"
count = 3
[diversity]
max_per_group = 1
"""

CATALOG_JSON = {"actions": [
    {"name": "retention-call", "kind": "service", "channel": "phone", "priority": 10,
     "eligibility": "needs.churn > 0.6 && customer.contract == 'month-to-month'"},
    {"name": "newsletter", "kind": "campaign", "channel": "email", "eligibility": "true"},
]}


@pytest.fixture()
def env(sqlite_url: str) -> dict[str, str]:
    with Store.open(sqlite_url) as store:
        tid = store.tenants.ensure("shop")
        store.fields.add(tid, FieldSpec(entity="customer", name="contract",
                                        type=FieldType.STRING))
        store.fields.add(tid, FieldSpec(entity="customer", name="preferred_categories",
                                        type=FieldType.LIST))
        store.customers.upsert(tid, [
            {"customer_id": "a", "contract": "month-to-month", "consent_marketing": "granted",
             "preferred_categories": ["tents"]},
            {"customer_id": "b", "contract": "annual", "consent_marketing": "denied"}])
        store.items.upsert(tid, [
            {"item_id": f"i{i}", "title": f"Item {i}", "categories": [cat],
             "available": i != 2} for i, cat in enumerate(["tents", "tents", "stoves",
                                                          "stoves", "lamps"])])
        store.events.add(tid, [{"customer_id": c, "item_id": f"i{i}", "type": "purchase",
                                "ts": f"2024-01-0{1 + i}T00:00:00Z"}
                               for c, i in [("b", 0), ("b", 1), ("b", 3), ("a", 4)]])
        store.need_scores.replace(tid, "churn", [{"customer_id": "a", "score": 0.9}])
        store.segments.replace(tid, "rfm", {"a": "champions", "b": "champions"})
    return {"TAILORCRM_DATABASE_URL": sqlite_url, "TAILORCRM_TENANT": "shop",
            "COLUMNS": "200"}


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_rules_validate_put_get_list(env: dict[str, str], tmp_path: Path) -> None:
    good = write(tmp_path, "rules.toml", RULES_TOML)
    assert "1 filter(s), 1 booster(s)" in runner.invoke(app, ["rules", "validate",
                                                             str(good)]).output
    bad = write(tmp_path, "bad.json", json.dumps(
        {"filters": [{"name": "x", "expression": "item.price <= (customer.budget"}]}))
    result = runner.invoke(app, ["rules", "validate", str(bad)])
    assert result.exit_code == RuleError.exit_code
    assert "line 1, column 31" in result.output and "^" in result.output
    put = runner.invoke(app, ["rules", "put", "shop", str(good)], env=env)
    assert put.exit_code == 0 and "version 1" in put.output
    got = runner.invoke(app, ["rules", "get", "shop", "--format", "json"], env=env)
    assert json.loads(got.output)["boosters"][0]["factor"] == 2.0
    listed = runner.invoke(app, ["rules", "list"], env=env)
    assert "shop" in listed.output
    missing = runner.invoke(app, ["rules", "get", "nope"], env=env)
    assert missing.exit_code == NotFoundError.exit_code


def test_strategies_put_show_recommend(env: dict[str, str], tmp_path: Path) -> None:
    runner.invoke(app, ["rules", "put", "shop", str(write(tmp_path, "r.toml", RULES_TOML))],
                  env=env)
    put = runner.invoke(app, ["strategies", "put", str(write(tmp_path, "h.toml",
                                                             STRATEGY_TOML))], env=env)
    assert put.exit_code == 0, put.output
    shown = runner.invoke(app, ["strategies", "show", "homepage"], env=env)
    assert "at most 1 per category" in shown.output and "rules: shop" in shown.output
    assert "homepage" in runner.invoke(app, ["strategies", "list"], env=env).output
    toml_text = runner.invoke(app, ["strategies", "get", "homepage"], env=env).output
    assert 'rules = "shop"' in toml_text
    rec = runner.invoke(app, ["strategies", "recommend", "homepage", "--customer", "a",
                              "--json"], env=env)
    assert rec.exit_code == 0, rec.output
    items = json.loads(rec.output)["items"]
    ids = [i["item_id"] for i in items]
    # i2 unavailable, i4 bought by a, one per category, the preferred tent boosted first.
    assert ids[0] in {"i0", "i1"} and "i2" not in ids and "i4" not in ids
    assert len(ids) == 2
    assert any("preferred-category" in r["label"] for r in items[0]["reasons"])
    # A per-request override with no rules: exclusions stay, the boost is gone.
    empty = write(tmp_path, "none.toml", "")
    plain = runner.invoke(app, ["strategies", "recommend", "homepage", "--customer", "a",
                                "--rules", str(empty), "--json"], env=env)
    assert plain.exit_code == 0, plain.output
    assert not any("preferred-category" in r["label"]
                   for i in json.loads(plain.output)["items"] for r in i["reasons"])


def test_actions_and_export(env: dict[str, str], tmp_path: Path) -> None:
    catalog = write(tmp_path, "actions.json", json.dumps(CATALOG_JSON))
    assert runner.invoke(app, ["actions", "put", str(catalog)], env=env).exit_code == 0
    listed = runner.invoke(app, ["actions", "list"], env=env)
    assert listed.exit_code == 0 and "retention" in listed.output
    ranked = runner.invoke(app, ["actions", "for-customer", "a", "--json"], env=env)
    body = json.loads(ranked.output)
    assert [a["action"] for a in body["actions"]] == ["retention-call", "newsletter"]
    assert body["actions"][0]["reasons"][1]["label"] == "churn score 0.90"
    fb = runner.invoke(app, ["actions", "feedback", "a", "retention-call", "--rejected"],
                       env=env)
    assert fb.exit_code == 0, fb.output
    runner.invoke(app, ["actions", "feedback", "b", "newsletter", "--accepted"], env=env)
    stats = json.loads(runner.invoke(app, ["actions", "stats", "--json"], env=env).output)
    assert stats["retention-call"] == {"accepted": 0, "rejected": 1, "acceptance_rate": 0.0}
    assert stats["newsletter"]["acceptance_rate"] == 1.0
    after = json.loads(runner.invoke(app, ["actions", "for-customer", "a", "--json"],
                                     env=env).output)
    assert [a["action"] for a in after["actions"]] == ["newsletter"]  # rejected: suppressed
    bad = runner.invoke(app, ["actions", "feedback", "a", "nope", "--accepted"], env=env)
    assert bad.exit_code != 0

    out = tmp_path / "champions.csv"
    exported = runner.invoke(app, ["export", "segment", "--segmentation", "rfm", "--segment",
                                   "champions", "--out", str(out)], env=env)
    assert exported.exit_code == 0, exported.output
    assert "1 consent denied" in exported.output
    rows = list(csv.DictReader(out.open()))
    assert [r["customer_id"] for r in rows] == ["a"]
    assert rows[0]["best_action"] == "newsletter"


def test_precomputed_lists_feed_actions_and_export(env: dict[str, str], tmp_path: Path) -> None:
    runner.invoke(app, ["rules", "put", "shop", str(write(tmp_path, "r.toml", RULES_TOML))],
                  env=env)
    runner.invoke(app, ["strategies", "put", str(write(tmp_path, "h.toml", STRATEGY_TOML))],
                  env=env)
    done = runner.invoke(app, ["strategies", "precompute", "homepage"], env=env)
    assert done.exit_code == 0, done.output
    assert "2 lists stored" in done.output
    with Store.open(env["TAILORCRM_DATABASE_URL"]) as store:
        tid = store.tenants.id_of("shop")
        listed = store.recommendations.get(tid, "homepage", "a")
        assert listed is not None and listed.items
        assert "i4" not in [i["item_id"] for i in listed.items]  # a bought i4
    catalog = {"actions": [{"name": "tent-offer", "eligibility": "true",
                            "strategy": "homepage", "linked_categories": ["tents"]}]}
    runner.invoke(app, ["actions", "put", str(write(tmp_path, "a.json", json.dumps(catalog)))],
                  env=env)
    body = json.loads(runner.invoke(app, ["actions", "for-customer", "a", "--json"],
                                    env=env).output)
    assert body["actions"][0]["items"] and body["actions"][0]["items"][0] in {"i0", "i1"}
    out = tmp_path / "x.csv"
    runner.invoke(app, ["export", "segment", "--segmentation", "rfm", "--segment", "champions",
                        "--out", str(out), "--strategy", "homepage"], env=env)
    rows = list(csv.DictReader(out.open()))
    assert rows[0]["top_items"] == "|".join(i["item_id"] for i in listed.items[:5])
