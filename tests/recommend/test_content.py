"""Content-based model: item features, cold-start customers by attributes, cold items."""

from __future__ import annotations

import numpy as np

from tailorcrm.data.dataset import Dataset
from tailorcrm.demo.generator import DemoData
from tailorcrm.evaluation.metrics import ranking_metrics
from tailorcrm.recommend.content import ContentBased
from tailorcrm.recommend.ease import EASE
from tailorcrm.recommend.popularity import Popularity
from tailorcrm.recommend.ranking import top_k


def _held_out_ndcg(model: object, data: Dataset, held: list[str]) -> float:
    ev = data.events
    train = data.with_events(ev[~ev["customer_id"].isin(held)])
    truth = data.with_events(ev[ev["customer_id"].isin(held) & (ev["type"] == "purchase")])
    idx = data.customer_vocab.index(held)
    model.fit(train)  # type: ignore[attr-defined]
    scores = np.full((data.n_customers, data.n_items), np.nan)
    scores[idx] = model.score_many(idx)  # type: ignore[attr-defined]
    return ranking_metrics(top_k(scores, 10), truth.interaction_matrix(weighting="binary"),
                           10)["ndcg"]


def test_item_vectors_use_text_categories_and_feature_fields(demo_data: Dataset) -> None:
    model = ContentBased().fit(demo_data)
    names = set(model.feature_names_)
    assert any(n.startswith("category: ") for n in names)
    assert any(n.startswith("text: ") for n in names)
    assert any(n.startswith("brand: ") for n in names)  # enum field flagged feature
    assert "eco_friendly" in {n.split(":")[0] for n in names}  # boolean field
    assert not any(n.startswith("launch_date") for n in names)  # not flagged feature


def test_cold_customers_matched_by_their_attributes(demo_data: Dataset,
                                                    held_out_customers: list[str]) -> None:
    """Held-out customers (attributes only): content beats global popularity clearly.

    Measured on this demo: content 0.50, popularity 0.24 (nDCG@10 of their purchases).
    """
    content = _held_out_ndcg(ContentBased(), demo_data, held_out_customers)
    popular = _held_out_ndcg(Popularity(), demo_data, held_out_customers)
    assert content >= 0.40
    assert content >= popular + 0.15


def test_cold_customers_recover_planted_relevant_items(demo: DemoData, demo_data: Dataset,
                                                       held_out_customers: list[str]) -> None:
    """Against the generator's truth (measured 0.60 for content vs 0.19 for popularity)."""
    from scipy import sparse

    rows, cols = [], []
    for c in held_out_customers:
        for item in demo.truth.relevant_items[c]:
            rows.append(demo_data.customer_vocab.index_of(c))
            cols.append(demo_data.item_vocab.index_of(item))
    truth = sparse.csr_matrix((np.ones(len(rows)), (rows, cols)),
                              shape=(demo_data.n_customers, demo_data.n_items))
    ev = demo_data.events
    model = ContentBased().fit(demo_data.with_events(ev[~ev["customer_id"].isin(
        held_out_customers)]))
    idx = demo_data.customer_vocab.index(held_out_customers)
    scores = np.full((demo_data.n_customers, demo_data.n_items), np.nan)
    scores[idx] = model.score_many(idx)
    assert ranking_metrics(top_k(scores, 10), truth, 10)["ndcg"] >= 0.45


def test_held_out_items_reach_their_buyers_through_content(demo_data: Dataset) -> None:
    """Items with all events removed: collaborative models cannot score them (NaN), content
    ranks each one for its real buyers in the top third on average (measured 0.26)."""
    rng = np.random.default_rng(1)
    held = set(rng.choice(demo_data.item_vocab.ids, 10, replace=False))
    ev = demo_data.events
    train = demo_data.with_events(ev[~ev["item_id"].isin(held)])
    held_idx = demo_data.item_vocab.index(sorted(held))
    assert np.all(np.isnan(EASE(lam=50.0).fit(train).score(0, held_idx)))
    content = ContentBased().fit(train)
    buyers = ev[ev["item_id"].isin(held) & (ev["type"] == "purchase")]
    percentiles = []
    for customer_id, item_id in buyers[["customer_id", "item_id"]].drop_duplicates() \
            .itertuples(index=False):
        scores = content.score(demo_data.customer_vocab.index_of(customer_id))
        j = demo_data.item_vocab.index_of(item_id)
        percentiles.append(float(np.mean(scores > scores[j])))
    assert len(percentiles) >= 20
    assert np.mean(percentiles) <= 1 / 3


def test_direct_attribute_match_explains_with_category(demo_data: Dataset) -> None:
    """A customer without history whose preferred category is X gets X items, and the
    reason names the matching attribute."""
    model = ContentBased().fit(demo_data.with_events(demo_data.events.iloc[:0]))
    customers = demo_data.customers.reindex(demo_data.customer_vocab.ids)
    c = int(np.flatnonzero(customers["preferred_categories"].map(len) == 1)[0])
    wanted = customers["preferred_categories"].iloc[c][0]
    scores = model.score(c)
    best = top_k(scores, 5)[0]
    cats = demo_data.items.reindex(demo_data.item_vocab.ids)["categories"]
    assert all(wanted in cats.iloc[i] for i in best)
    labels = [r.label for r in model.explain(c, int(best[0]))]
    assert f"category: {wanted}" in labels


def test_denied_customers_get_no_attribute_profile(demo_data: Dataset) -> None:
    customers = demo_data.customers.copy()
    first = demo_data.customer_vocab.id(0)
    customers.loc[first, "consent_personalization"] = "denied"
    data = Dataset(customers=customers, items=demo_data.items, events=demo_data.events,
                   customer_fields=demo_data.customer_fields, item_fields=demo_data.item_fields)
    assert bool(np.all(np.isnan(ContentBased().fit(data).score(0))))
