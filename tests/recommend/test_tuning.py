"""Tuning: weights and hyper-parameters come from a validation carve of training data."""

from __future__ import annotations

import numpy as np

from tailorcrm.data.dataset import Dataset
from tailorcrm.evaluation.splits import stratified_item
from tailorcrm.recommend.hybrid import ComponentSpec, Hybrid
from tailorcrm.recommend.tuning import TuningConfig, tune_hybrid


def test_tuning_picks_a_blend_that_beats_its_anchor_on_validation(demo_data: Dataset) -> None:
    purchases = demo_data.events[demo_data.events["type"].isin(["purchase", "add_to_cart"])]
    train, _ = stratified_item(purchases, seed=1)
    data = demo_data.with_events(train)
    config = TuningConfig(
        weighting="catalog",
        ease_grid=(("binary", 10.0, 0.0), ("binary", 100.0, 0.0)),
        als_grid=((8, 1.0),),
        extra=((ComponentSpec(kind="popularity"),),),
        weights=(0.0, 0.25, 0.5), passes=1)
    result = tune_hybrid(data, config)
    anchors = [t["ndcg"] for t in result.trials if t["kind"] == "ease"]
    assert result.validation_ndcg >= max(anchors)
    assert result.config.components[0].kind == "ease"
    assert all(c.weight > 0 for c in result.config.components)
    assert {t["kind"] for t in result.trials} >= {"ease", "als", "popularity", "blend"}
    # the chosen blend is a working model
    model = Hybrid(result.config).fit(data)
    assert np.isfinite(model.score_many(np.arange(5))).any()
