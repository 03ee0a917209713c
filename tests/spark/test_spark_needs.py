"""Need models on Spark (MLlib logistic regression), and rules that read needs and segments.

One Spark run of the demo tenant with a derived need (churn), a label need (newsletter) and a
default strategy whose booster reads the stored RFM segment: the tests compare what Spark
made with what one machine makes from the same data.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from spark_tenant import import_demo

from tailorcrm.customize.rules import BoostRule, RuleSet
from tailorcrm.customize.strategies import Strategy, save_strategy
from tailorcrm.jobs.train import TrainConfig
from tailorcrm.needs.definitions import ChurnNeed, LabelNeed, save_need
from tailorcrm.needs.model import ModelConfig, NeedModel
from tailorcrm.needs.scoring import load_active
from tailorcrm.store import Store

CHURN = ChurnNeed(name="churn", horizon_days=60)
NEWSLETTER = LabelNeed(name="newsletter", field="newsletter")
BOOST = BoostRule(name="champions-first", when="segments.rfm == 'champions'", factor=3.0)


@pytest.fixture(scope="module")
def demo(spark: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The demo tenant in a SQLite file, with two needs and a segment-reading booster."""
    folder = tmp_path_factory.mktemp("spark-needs")
    store = Store.open(f"sqlite:///{folder / 'tailorcrm.db'}", artifacts_dir=folder / "art")
    tid = import_demo(store, folder / "work")
    for need in (CHURN, NEWSLETTER):
        save_need(store, tid, need)
    save_strategy(store.configs, tid, Strategy(name="default",
                                               rules=RuleSet(boosters=(BOOST,))))
    return {"store": store, "tid": tid, "folder": folder, "spark": spark}


@pytest.fixture(scope="module")
def fits(demo: dict[str, Any]) -> dict[str, Any]:
    """The derived need fitted on Spark (without publishing); the label need is trained by
    the whole job below."""
    from tailorcrm.spark.job import SparkTrainConfig, read_tenant
    from tailorcrm.spark.needs import fit_need_spark

    tenant, _ = read_tenant(demo["store"], demo["tid"], SparkTrainConfig(),
                            demo["folder"] / "art", "fit")
    return {"tenant": tenant, CHURN.name: fit_need_spark(tenant, CHURN)}


@pytest.fixture(scope="module")
def trained(demo: dict[str, Any]) -> dict[str, Any]:
    """The whole Spark training job: needs, segments, recommender and precompute."""
    from tailorcrm.spark.job import train_tenant_spark

    report = train_tenant_spark(demo["store"], demo["tid"], demo["folder"] / "art",
                                TrainConfig())
    return {**demo, "report": report}


def test_labels_and_features_equal_single_node(demo: dict[str, Any],
                                               fits: dict[str, Any]) -> None:
    """Every bucket labels and describes its customers as the whole tenant would: the
    anchors keep the tenant's first and last event time, ``as_of`` its end of data."""
    data = demo["store"].load_dataset(demo["tid"])
    for need in (CHURN,):
        fit = fits[need.name]
        y = need.labels(data)
        probe = NeedModel(need)
        when = None if isinstance(need, LabelNeed) else need.window(data, None)[0]
        local = probe.frame(data, y.index, when)
        spark_frame = fit.model.train_frame_.sort_index()
        assert list(spark_frame.index) == sorted(map(str, y.index)), need.name
        assert fit.model.categories_ == probe.categories_
        pd.testing.assert_frame_equal(spark_frame, local.sort_index()[spark_frame.columns],
                                      check_dtype=False, check_exact=False, rtol=1e-9)
        assert list(spark_frame.columns) == list(local.columns)
        assert np.array_equal(np.sort(fit.model.train_target_),
                              np.sort(y.to_numpy(dtype=np.float64)))


def test_mllib_logistic_matches_scikit_learn(demo: dict[str, Any],
                                             fits: dict[str, Any]) -> None:
    """Same features, same objective (regParam = 1 / (C n), no standardisation): the same
    model up to the solvers' tolerance."""
    data = demo["store"].load_dataset(demo["tid"])
    for need in (CHURN,):
        spark_model = fits[need.name].model
        local = NeedModel(need, ModelConfig(algorithm="logistic")).fit(data)
        assert spark_model.feature_names == local.feature_names
        frame = local.frame(data, pd.Index(data.customers.index.astype(str)), None)
        raw_s, raw_l = spark_model.raw(frame), local.raw(frame)
        assert np.corrcoef(raw_s, raw_l)[0, 1] > 0.999, need.name
        assert np.abs(spark_model.predict(frame) - local.predict(frame)).max() < 0.05


def test_evaluation_is_held_out_and_graded(fits: dict[str, Any]) -> None:
    for need in (CHURN,):
        ev = fits[need.name].evaluation
        assert ev.protocol.startswith("3-fold CV by customer id hash on Spark")
        assert ev.held_out is not None and len(ev.held_out[0]) == ev.model["n"]
        assert 0.0 <= ev.model["roc_auc"] <= 1.0 and ev.baseline_kind


def test_spark_job_publishes_need_scores_of_the_saved_model(trained: dict[str, Any]) -> None:
    """Scores made on the executors are the saved model's scores, with reasons."""
    store, tid = trained["store"], trained["tid"]
    report = trained["report"]
    data = store.load_dataset(tid)
    for need in (CHURN, NEWSLETTER):
        outcome = report.needs[need.name]
        assert outcome["engine"] == "spark", outcome
        record = store.models.active(tid, f"need:{need.name}")
        assert record is not None
        stored = {r.customer_id: r for r in store.need_scores.top(tid, need.name, limit=10_000)}
        assert len(stored) == outcome["customers_scored"] > 0.9 * data.n_customers
        if outcome["source"] != "model":
            assert all(r.source == "baseline" for r in stored.values())
            continue
        model = load_active(store, tid, need.name)
        ids = pd.Index(sorted(stored))
        expected = model.predict(model.frame(data, ids, None))
        got = np.array([stored[c].score for c in ids])
        assert np.abs(got - expected).max() < 1e-9, need.name
        assert all(r.reasons for r in stored.values())


def test_rules_reading_segments_see_them_on_the_executors(trained: dict[str, Any]) -> None:
    """The booster reads the stored RFM segment: champions' lists carry its reason, no one
    else's does (before the fix the executors saw no segments: no list had it)."""
    store, tid = trained["store"], trained["tid"]
    segment = {c: s.get("rfm") for c, s in store.bulk.segments(tid).items()}
    lists = dict(store.bulk.lists(tid, "default"))
    boosted = {c for c, items in lists.items()
               if any(BOOST.name in " ".join(str(r) for r in i["reasons"]) for i in items)}
    champions = {c for c, s in segment.items() if s == "champions" and lists.get(c)}
    assert champions, "the demo has RFM champions"
    assert boosted == champions


def test_rfm_segments_on_spark_equal_single_node(trained: dict[str, Any]) -> None:
    """Quintile scores from four distributed order statistics per column give every
    customer the segment ``rfm_table`` gives on one machine (ties included)."""
    from tailorcrm.needs.rfm import rfm_table

    store, tid = trained["store"], trained["tid"]
    expected = rfm_table(store.load_dataset(tid))["segment"]
    stored = {c: s["rfm"] for c, s in store.bulk.segments(tid).items() if "rfm" in s}
    assert stored == {str(c): str(v) for c, v in expected.items()}
    assert len(set(stored.values())) >= 5
