"""Tuning: weights and hyper-parameters come from a validation carve of training data."""

from __future__ import annotations

import numpy as np
import pytest

from tailorcrm.data.dataset import Dataset
from tailorcrm.demo.config import DemoConfig
from tailorcrm.demo.generator import generate
from tailorcrm.evaluation.splits import stratified_item
from tailorcrm.evaluation.tuning import TuningConfig, tune_hybrid
from tailorcrm.recommend.registry import build_model
from tailorcrm.recommend.spec import ModelSpec


@pytest.fixture(scope="module")
def demo_data() -> Dataset:
    """The recommendation tests' small demo CRM (400 customers, 100 items)."""
    return generate(DemoConfig(n_customers=400, n_items=100, seed=3)).to_dataset()


def test_tuning_picks_a_blend_that_beats_its_anchor_on_validation(demo_data: Dataset) -> None:
    purchases = demo_data.events[demo_data.events["type"].isin(["purchase", "add_to_cart"])]
    train, _ = stratified_item(purchases, seed=1)
    data = demo_data.with_events(train)
    config = TuningConfig(
        weighting="catalog",
        ease_grid=(("binary", 10.0, 0.0), ("binary", 100.0, 0.0)),
        als_grid=((8, 1.0),),
        extra=((ModelSpec(kind="popularity"),),),
        weights=(0.0, 0.25, 0.5), passes=1)
    result = tune_hybrid(data, config)
    anchors = [t["ndcg"] for t in result.trials if t["kind"] == "ease"]
    assert result.validation_ndcg >= max(anchors)
    assert result.config.components[0].kind == "ease"
    assert all(c.weight > 0 for c in result.config.components)
    assert {t["kind"] for t in result.trials} >= {"ease", "als", "popularity", "blend"}
    # the chosen blend is a working model
    model = build_model("hybrid", result.config.model_dump(mode="json")).fit(data)
    assert np.isfinite(model.score_many(np.arange(5))).any()
