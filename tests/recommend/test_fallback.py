"""Fallback chain: a model that cannot score a customer defers, and who answered is kept."""

from __future__ import annotations

import numpy as np

from tailorcrm.data.dataset import Dataset
from tailorcrm.demo.generator import DemoData
from tailorcrm.recommend.content import ContentBased
from tailorcrm.recommend.ease import EASE
from tailorcrm.recommend.fallback import FallbackChain
from tailorcrm.recommend.popularity import Popularity


def test_chain_records_which_model_answered(demo: DemoData, demo_data: Dataset) -> None:
    chain = FallbackChain.of([EASE(lam=50.0), ContentBased(), Popularity()]).fit(demo_data)
    warm = demo_data.customer_vocab.index_of(demo_data.events["customer_id"].iloc[0])
    cold = demo_data.customer_vocab.index_of(demo.truth.cold_start_customers[0])
    scores, source = chain.score_with_source(np.asarray([warm, cold, -1]))
    assert source == ["ease", "content", "popularity"]
    assert np.isfinite(scores).any(axis=1).all()
    assert chain.answering_model(cold) == "content"
    # the cold customer's list is content's, not popularity's
    np.testing.assert_allclose(scores[1], chain.models[1].score(cold), equal_nan=True)
