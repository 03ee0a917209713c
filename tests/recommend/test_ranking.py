"""Ranking: exclusions, consent, live feedback and labelled reasons on every item."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tailorcrm.data.dataset import Dataset
from tailorcrm.recommend.ease import EASE
from tailorcrm.recommend.hybrid import Hybrid
from tailorcrm.recommend.itemknn import ItemKNN
from tailorcrm.recommend.popularity import Popularity
from tailorcrm.recommend.ranking import Ranker, RankingConfig, top_k


@pytest.fixture(scope="module")
def ranker(demo_data: Dataset) -> Ranker:
    model = Hybrid.of([(EASE(lam=50.0), 1.0), (ItemKNN(k=30), 0.5)]).fit(demo_data)
    return Ranker(model, demo_data, RankingConfig(n=10))


def _active_customer(data: Dataset) -> str:
    bought = data.events[data.events["type"] == "purchase"]["customer_id"].value_counts()
    return str(bought.index[0])


def test_top_k_orders_skips_nan_and_breaks_ties_by_index() -> None:
    scores = np.asarray([[1.0, 3.0, np.nan, 3.0, 0.5], [np.nan] * 5])
    np.testing.assert_array_equal(top_k(scores, 3), [[1, 3, 0], [-1, -1, -1]])


def test_bought_unavailable_and_rejected_items_are_excluded(ranker: Ranker,
                                                            demo_data: Dataset) -> None:
    customer = _active_customer(demo_data)
    ev = demo_data.events
    bought = set(ev[(ev["customer_id"] == customer) & (ev["type"] == "purchase")]["item_id"])
    unavailable = set(demo_data.items.index[demo_data.items["available"] == False])  # noqa: E712
    assert bought and unavailable
    ids = [r.item_id for r in ranker.recommend(customer, n=60)]
    assert len(ids) >= 40  # 100 items less bought, unavailable and never-seen ones
    assert not set(ids) & bought
    assert not set(ids) & unavailable


def test_repurchasable_categories_keep_bought_items(demo_data: Dataset) -> None:
    customer = _active_customer(demo_data)
    ev = demo_data.events
    bought = set(ev[(ev["customer_id"] == customer) & (ev["type"] == "purchase")]["item_id"])
    categories = {c for i in bought for c in demo_data.items.loc[i, "categories"]}
    model = Popularity().fit(demo_data)
    plain = Ranker(model, demo_data, RankingConfig(n=100))
    repurchase = Ranker(model, demo_data,
                        RankingConfig(n=100, repurchasable_categories=tuple(categories)))
    assert not {r.item_id for r in plain.recommend(customer)} & bought
    assert bought <= {r.item_id for r in repurchase.recommend(customer)} | \
        set(demo_data.items.index[demo_data.items["available"] == False])  # noqa: E712


def test_live_reject_is_never_shown_again(ranker: Ranker) -> None:
    customer = _active_customer(ranker.data)
    first = ranker.recommend(customer)[0].item_id
    ranker.add_events(pd.DataFrame({"customer_id": [customer], "item_id": [first],
                                    "type": ["reject"]}))
    assert first not in {r.item_id for r in ranker.recommend(customer, n=80)}


def test_live_event_changes_next_recommendations_without_retraining(demo_data: Dataset
                                                                   ) -> None:
    """A new customer's first purchases steer their list towards those items' neighbours."""
    model = EASE(lam=50.0).fit(demo_data)
    ranker = Ranker(model, demo_data)
    before = [r.item_id for r in ranker.recommend("brand-new")]
    category = demo_data.items["categories"].map(lambda c: c[0] if c else "")
    in_cat = [i for i in category.index[category == category.value_counts().index[-1]]
              if demo_data.items.loc[i, "available"]][:3]
    ranker.add_events(pd.DataFrame({"customer_id": "brand-new", "item_id": in_cat,
                                    "type": "purchase"}))
    after = ranker.recommend("brand-new")
    assert [r.item_id for r in after] != before
    assert not {r.item_id for r in after} & set(in_cat)  # just bought: excluded
    share = np.mean([category[r.item_id] == category[in_cat[0]] for r in after[:5]])
    base = np.mean(category == category[in_cat[0]])
    assert share > base  # the list moved towards the new taste
    titles = {demo_data.items.loc[i, "title"] for i in in_cat}
    for rec in after:  # reasons come from the new history: "bought <one of the new items>"
        history = [r for r in rec.reasons if r.kind == "history_item"]
        assert history and all(r.ref in in_cat for r in history)
        assert all(r.label.removeprefix("bought ") in titles for r in history)


def test_consent_denied_customer_gets_non_personalized_list(demo_data: Dataset) -> None:
    customer = _active_customer(demo_data)
    customers = demo_data.customers.copy()
    customers.loc[customer, "consent_personalization"] = "denied"
    data = Dataset(customers=customers, items=demo_data.items, events=demo_data.events,
                   customer_fields=demo_data.customer_fields,
                   item_fields=demo_data.item_fields)
    model = EASE(lam=50.0).fit(data)
    idx = data.customer_vocab.index_of(customer)
    assert model.history_[idx].nnz == 0  # left out of training
    ranker = Ranker(model, data)
    recs = ranker.recommend(customer)
    popular = Ranker(Popularity().fit(data), data).recommend(customer)
    assert [r.item_id for r in recs] == [r.item_id for r in popular]
    assert all(r.reasons[0].kind == "popular" for r in recs)


def test_every_item_carries_weighted_machine_readable_reasons(ranker: Ranker) -> None:
    customer = _active_customer(ranker.data)
    recs = ranker.recommend(customer)
    assert recs
    for rec in recs:
        kinds = [r.kind for r in rec.reasons]
        assert kinds[0] == "model" and rec.reasons[0].ref in {"ease", "itemknn"}
        history = [r for r in rec.reasons if r.kind == "history_item"]
        assert history, "a collaborative list names the history items that led to it"
        assert all(r.label.split()[0] in {"bought", "viewed", "clicked", "added", "rated",
                                           "liked"} for r in history)
        assert abs(sum(r.weight for r in history) - 1.0) < 1e-6
        payload = rec.to_dict()
        assert set(payload) == {"item_id", "score", "reasons"}
        assert {"kind", "label", "weight", "ref"} <= set(payload["reasons"][0])


def test_segment_popularity_reason(demo_data: Dataset) -> None:
    model = Popularity(segment_field="industry").fit(demo_data)
    customer = _active_customer(demo_data)
    recs = Ranker(model, demo_data).recommend(customer)
    industry = demo_data.customers.loc[customer, "industry"]
    assert recs[0].reasons[0].label == f"popular in your segment (industry: {industry})"


def test_customer_without_history_gets_popularity_with_reasons(demo_data: Dataset) -> None:
    from tailorcrm.recommend import default_recommender

    ranker = Ranker(default_recommender().fit(demo_data), demo_data, RankingConfig(n=5))
    recs = ranker.recommend("nobody-we-know")
    assert len(recs) == 5
    for rec in recs:
        assert [r.kind for r in rec.reasons] == ["popular"]
        assert rec.reasons[0].label == "popular with all customers"


def test_repeats_allowed_keep_bought_items_as_candidates(demo_data: Dataset) -> None:
    customer = _active_customer(demo_data)
    model = Popularity().fit(demo_data)
    ev = demo_data.events
    bought = set(ev[(ev["customer_id"] == customer) & (ev["type"] == "purchase")]["item_id"])
    shown = {r.item_id for r in Ranker(model, demo_data, RankingConfig(
        n=300, exclude_bought=False)).recommend(customer)}
    assert bought & shown
    idx = np.asarray([demo_data.customer_vocab.index_of(customer)])
    kept = Ranker(model, demo_data, RankingConfig())
    assert kept.excluded_many(idx)[0].sum() > kept.excluded_many(idx, exclude_bought=False)[0].sum()
