"""``tailorcrm train --engine spark`` on a demo tenant: trains, precomputes, writes back, serves."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from spark_tenant import import_demo
from typer.testing import CliRunner

from tailorcrm.api import create_app
from tailorcrm.customize.pipeline import Pipeline
from tailorcrm.customize.strategies import load_strategy
from tailorcrm.recommend.base import training_matrix
from tailorcrm.recommend.itemknn import ItemKNN
from tailorcrm.recommend.ranking_config import RankingConfig
from tailorcrm.recommend.registry import load_model
from tailorcrm.settings import Settings
from tailorcrm.store import Store
from tailorcrm.store.model_store import read_vocab


@pytest.fixture(scope="module")
def trained(spark: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A demo tenant in a SQLite file, trained through the CLI with ``--engine spark``."""
    from tailorcrm.cli.main import app

    folder = tmp_path_factory.mktemp("spark-train")
    url = f"sqlite:///{folder / 'tailorcrm.db'}"
    store = Store.open(url, artifacts_dir=folder / "artifacts")
    tid = import_demo(store, folder / "work")
    result = CliRunner().invoke(app, ["train", "--db", url, "--tenant", "demo", "--engine",
                                      "spark", "--conf", "spark.sql.shuffle.partitions=4",
                                      "--no-needs"], env={"TAILORCRM_ARTIFACTS_DIR":
                                                          str(folder / "artifacts")})
    assert result.exit_code == 0, result.output
    return {"store": store, "tid": tid, "url": url, "folder": folder, "output": result.output}


def test_train_registers_an_active_spark_model(trained: dict[str, Any]) -> None:
    store, tid = trained["store"], trained["tid"]
    active = store.models.active(tid, "recommender")
    assert active is not None and active.kind == "fallback"
    assert active.metrics["engine"] == "spark"
    assert "trained on Spark" in trained["output"]


def test_vocabularies_match_single_node(trained: dict[str, Any]) -> None:
    store, tid = trained["store"], trained["tid"]
    vocab = read_vocab(store.models.active(tid, "recommender").path)
    data = store.load_dataset(tid)
    assert vocab == {"customers": data.customer_vocab.to_list(),
                     "items": data.item_vocab.to_list()}


def test_saved_histories_equal_single_node_weights(trained: dict[str, Any]) -> None:
    store, tid = trained["store"], trained["tid"]
    model = load_model(store.models.active(tid, "recommender").path)
    als = model.models[0].models[0]
    data = store.load_dataset(tid)
    expected = training_matrix(data, als.config.weighting)
    assert abs(als.history_ - expected).max() < 1e-9
    assert als.user_factors_.shape == (data.n_customers, als.config.factors)


def test_item_cosine_matches_single_node(trained: dict[str, Any]) -> None:
    store, tid = trained["store"], trained["tid"]
    model = load_model(store.models.active(tid, "recommender").path)
    spark_knn = model.models[0].models[1]
    data = store.load_dataset(tid)
    local = ItemKNN(spark_knn.config).fit(data)
    a, b = spark_knn.similarity_.toarray(), local.similarity_.toarray()
    both = (a > 0) & (b > 0)
    assert both.sum() > 0.9 * (b > 0).sum()  # the same neighbours ...
    assert np.abs(a[both] - b[both]).max() < 1e-6  # ... with the same cosine


def test_every_customer_has_a_stamped_list_with_reasons(trained: dict[str, Any]) -> None:
    store, tid = trained["store"], trained["tid"]
    active = store.models.active(tid, "recommender")
    data = store.load_dataset(tid)
    stale, total = store.recommendations.count_stale(
        tid, "default", model_version=active.version, config_hash=active.config_hash)
    assert (stale, total) == (0, data.n_customers)
    lists = dict(store.bulk.lists(tid, "default"))
    with_reasons = [i for items in lists.values() for i in items if i["reasons"]]
    assert len(with_reasons) > 0.9 * sum(len(v) for v in lists.values())


def test_lists_equal_what_the_single_node_pipeline_makes(trained: dict[str, Any]) -> None:
    """The executors made the lists serving would make from the saved artifact."""
    store, tid = trained["store"], trained["tid"]
    active = store.models.active(tid, "recommender")
    model = load_model(active.path)
    data = store.load_dataset(tid)
    pipeline = Pipeline.build(load_strategy(store.configs, tid, "default"), model, data,
                              chosen=RankingConfig())
    ids = [str(c) for c in data.customer_vocab.ids[:40]]
    stored = dict(store.bulk.lists(tid, "default"))
    made = pipeline.recommend_many(ids)
    for cid in ids:
        assert [i["item_id"] for i in made[cid].item_dicts()] == \
            [i["item_id"] for i in stored[cid]], cid


def test_fold_in_works_on_the_spark_model(trained: dict[str, Any]) -> None:
    store, tid = trained["store"], trained["tid"]
    model = load_model(store.models.active(tid, "recommender").path)
    history = np.zeros(model.n_items_)
    history[[0, 3, 5]] = 1.0
    scores = model.fold_in(history)
    assert np.isfinite(scores).sum() > model.n_items_ // 2


def test_serving_answers_from_the_spark_lists(trained: dict[str, Any]) -> None:
    store, tid = trained["store"], trained["tid"]
    key = store.keys.create(tid, ["read"])[1]
    app = create_app(Settings(database_url=trained["url"],
                              artifacts_dir=trained["folder"] / "artifacts"), store)
    customer = next(iter(dict(store.bulk.lists(tid, "default"))))
    with TestClient(app) as client:
        body = client.get(f"/v1/customers/{customer}/recommendations?n=5",
                          headers={"Authorization": f"Bearer {key}"}).json()
    stored = dict(store.bulk.lists(tid, "default"))[customer]
    assert body["source"] == "precomputed", json.dumps(body)[:300]
    assert [i["item_id"] for i in body["items"]] == [i["item_id"] for i in stored[:5]]
