"""The training job chooses each tenant's recommender on its own data, stores why, and serves
the choice with its repeat policy and labels."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from typer.testing import CliRunner

from tailorcrm.cli.main import app
from tailorcrm.jobs.train import TrainConfig, train_tenant
from tailorcrm.recommend.ranking import NOT_PERSONALIZED
from tailorcrm.recommend.selection import SELECTION_KIND, SELECTION_NAME
from tailorcrm.serving.cache import ModelCache
from tailorcrm.store import Store

ONLY_RECS = TrainConfig(needs=False, segments=False, strategies=False)
START = pd.Timestamp("2025-01-01", tz="UTC")


def _load(store: Store, slug: str, rows: list[tuple[str, str, pd.Timestamp]]) -> int:
    tid = store.tenants.ensure(slug)
    store.events.add(tid, [{"customer_id": c, "item_id": i, "type": "purchase",
                            "ts": ts.isoformat()} for c, i, ts in rows])
    return tid


def staples_rows(n_customers: int = 120, n_items: int = 60) -> list[Any]:
    """Each customer re-buys 4 personal staples most weeks, plus one random item a week."""
    rng = np.random.default_rng(0)
    rows = []
    for c in range(n_customers):
        staples = rng.choice(n_items, size=4, replace=False)
        for week in range(8):
            basket = [s for s in staples if rng.random() < 0.75] + [int(rng.integers(n_items))]
            rows += [(f"c{c}", f"i{int(i)}", START + pd.Timedelta(days=7 * week, hours=c % 7))
                     for i in basket]
    return rows


def noise_rows(n_customers: int = 250, n_items: int = 80) -> list[Any]:
    """Independent draws from one skewed popularity: nothing personal to learn."""
    rng = np.random.default_rng(1)
    p = 1.0 / np.arange(1, n_items + 1)
    n = n_customers * 8
    who, what = rng.integers(0, n_customers, n), rng.choice(n_items, n, p=p / p.sum())
    return [(f"c{c}", f"i{i}", START + pd.Timedelta(seconds=int(s)))
            for c, i, s in zip(who, what, rng.integers(0, 180 * 86400, n), strict=True)]


def test_repeats_tenant_activates_buy_again_and_serves_repeats(sqlite_url: str,
                                                               tmp_path: Path) -> None:
    store = Store.open(sqlite_url)
    tid = _load(store, "grocer", staples_rows())
    report = train_tenant(store, tid, tmp_path / "artifacts", ONLY_RECS)
    assert report.recommender_choice["chosen"].startswith("buy_again")
    active = store.models.active(tid, "recommender")
    assert active is not None and active.version == report.recommender_version
    selection = active.metrics["selection"]
    assert selection["chosen"] == report.recommender_choice["chosen"]
    assert selection["repeats"] == "allow" and selection["personalized"]
    assert selection["margin_over_popularity"] > 0.5
    assert {"popularity", "buy_again", "default", "ease", "als", "itemknn"} <= set(
        selection["scores"])
    assert selection["carve"]["validation_customers"] == 120
    bought = {e.item_id for e in store.events.for_customer(tid, "c0")}
    stored = store.recommendations.get(tid, "default", "c0")
    assert stored is not None and {i["item_id"] for i in stored.items[:4]} <= bought
    entry = ModelCache(store).get(tid)  # the server loads the repeat policy with the model
    assert entry is not None and not entry.ranker.config.exclude_bought
    assert {r.item_id for r in entry.ranker.recommend("c0")[:4]} <= bought
    store.close()


def test_noise_tenant_gets_popularity_labelled_not_personalized(database_url: str,
                                                                tmp_path: Path) -> None:
    store = Store.open(database_url)
    tid = _load(store, "noisy", noise_rows())
    report = train_tenant(store, tid, tmp_path / "artifacts", ONLY_RECS)
    choice = report.recommender_choice
    assert not choice["personalized"] and choice["chosen"].startswith("popularity")
    stored = store.recommendations.get(tid, "default", "c3")
    assert stored is not None and len(stored.items) == 10
    for item in stored.items:
        assert item["reasons"][0]["kind"] == "popular"
        assert NOT_PERSONALIZED in item["reasons"][0]["label"]
    entry = ModelCache(store).get(tid)
    assert entry is not None
    cold = entry.ranker.recommend("a-new-customer")
    assert cold and all(NOT_PERSONALIZED in r.reasons[0].label for r in cold)
    store.close()


def test_tenant_config_document_forces_the_model(sqlite_url: str, tmp_path: Path) -> None:
    store = Store.open(sqlite_url)
    tid = _load(store, "forced", staples_rows(n_customers=40))
    store.configs.put(tid, SELECTION_KIND, SELECTION_NAME, {"force": "popularity"})
    report = train_tenant(store, tid, tmp_path / "artifacts", ONLY_RECS)
    active = store.models.active(tid, "recommender")
    assert active is not None and active.kind == "popularity"
    assert report.recommender_choice["chosen"] == "popularity"
    assert active.metrics["selection"]["forced"]
    assert "popularity" in active.metrics["selection"]["scores"]
    store.close()


def test_cli_train_prints_the_choice_and_models_list_shows_it(sqlite_url: str,
                                                              tmp_path: Path) -> None:
    store = Store.open(sqlite_url)
    tid = _load(store, "default", staples_rows(n_customers=40))
    env = {"TAILORCRM_ARTIFACTS_DIR": str(tmp_path / "artifacts")}
    runner = CliRunner()
    stored = runner.invoke(app, ["models", "configure", "--db", sqlite_url, "--force",
                                 "buy_again"], env=env)
    assert stored.exit_code == 0, stored.output
    assert store.configs.get(tid, SELECTION_KIND, SELECTION_NAME)["force"] == "buy_again"
    bad = runner.invoke(app, ["models", "configure", "--db", sqlite_url, "--repeats", "never"])
    assert bad.exit_code != 0
    cleared = runner.invoke(app, ["models", "configure", "--db", sqlite_url, "--force", ""])
    assert cleared.exit_code == 0, cleared.output
    assert store.configs.get(tid, SELECTION_KIND, SELECTION_NAME)["force"] is None
    store.close()
    result = runner.invoke(app, ["train", "--db", sqlite_url, "--no-needs", "--no-segments",
                                 "--repeats", "exclude"], env=env)
    assert result.exit_code == 0, result.output
    assert "recommender: " in result.output and "validation nDCG@10" in result.output
    assert "repeats exclude" in result.output
    listed = runner.invoke(app, ["models", "list", "--db", sqlite_url, "--json"], env=env)
    assert listed.exit_code == 0, listed.output
    assert '"margin_over_popularity"' in listed.output and '"chosen"' in listed.output
