"""The default recommender on the demo CRM: warm, cold and consent-denied customers."""

from __future__ import annotations

import pytest

from tailorcrm.data.dataset import Dataset
from tailorcrm.demo.generator import DemoData
from tailorcrm.recommend import default_recommender
from tailorcrm.recommend.ranking import Ranker


@pytest.fixture(scope="module")
def ranker(demo_data: Dataset) -> Ranker:
    return Ranker(default_recommender().fit(demo_data), demo_data)


def test_warm_customer_list_names_model_and_details(ranker: Ranker,
                                                   demo_data: Dataset) -> None:
    customer = str(demo_data.events["customer_id"].value_counts().index[0])
    recs = ranker.recommend(customer)
    assert len(recs) == 10
    for rec in recs:
        assert rec.reasons[0].kind == "model"
        assert any(r.kind in {"history_item", "attribute"} for r in rec.reasons[1:])


def test_cold_customer_is_matched_by_attributes(ranker: Ranker, demo: DemoData) -> None:
    customer = demo.truth.cold_start_customers[0]
    recs = ranker.recommend(customer)
    assert len(recs) == 10
    assert all(any(r.kind == "attribute" for r in rec.reasons) for rec in recs)
