"""Hybrid: per-customer normalization makes differently scaled models blend evenly."""

from __future__ import annotations

import numpy as np

from tailorcrm.data.dataset import Dataset
from tailorcrm.demo.generator import DemoData
from tailorcrm.recommend.content import ContentBased
from tailorcrm.recommend.ease import EASE
from tailorcrm.recommend.hybrid import Hybrid, normalize_rows


def test_normalizations_ignore_seen_items_and_keep_nan() -> None:
    scores = np.asarray([[100.0, 1.0, 2.0, 3.0, np.nan]])
    seen = np.asarray([[True, False, False, False, False]])
    z = normalize_rows(scores, seen, "zscore")[0]
    assert np.isnan(z[4])
    np.testing.assert_allclose(z[1:4], [-1.2247449, 0.0, 1.2247449], rtol=1e-6)
    mm = normalize_rows(scores, seen, "minmax")[0]
    np.testing.assert_allclose(mm[1:4], [0.0, 0.5, 1.0])
    assert np.isnan(normalize_rows(np.full((1, 3), np.nan), np.zeros((1, 3), bool),
                                   "zscore")).all()


def test_blend_scores_cold_items_through_its_content_part(demo: DemoData,
                                                          demo_data: Dataset) -> None:
    hybrid = Hybrid.of([(EASE(lam=50.0), 1.0), (ContentBased(), 0.2)]).fit(demo_data)
    new_items = demo_data.item_vocab.index(demo.truth.new_items)
    warm = demo_data.customer_vocab.index_of(demo_data.events["customer_id"].iloc[0])
    assert np.all(np.isnan(hybrid.models[0].score(warm, new_items)))
    assert np.all(np.isfinite(hybrid.score(warm, new_items)))
    shares = hybrid.contributions(warm, int(np.nanargmax(hybrid.score(warm))))
    assert set(shares) == {"0_ease", "1_content"}


def test_component_that_refuses_the_data_is_left_out(demo_data: Dataset) -> None:
    hybrid = Hybrid.of([(EASE(lam=50.0, max_items=10), 1.0), (ContentBased(), 0.2)])
    hybrid.fit(demo_data)  # 100 items > max_items: EASE refuses, content carries on
    assert [m.name for m in hybrid.models] == ["content"]
    assert [c.kind for c in hybrid.config.components] == ["content"]
    assert np.isfinite(hybrid.score(0)).any()
