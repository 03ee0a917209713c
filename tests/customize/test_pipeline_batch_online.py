"""Property: for random strategies and customers, the batch and the online paths of the one
pipeline give the same list, scores and reasons."""

from __future__ import annotations

from functools import cache
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tailorcrm.customize.pipeline import Pipeline, StrategyResult
from tailorcrm.customize.rules import RuleSet
from tailorcrm.customize.strategies import SHIPPED_DEFAULT, Strategy, strategy_to_recommender
from tailorcrm.data.dataset import Dataset
from tailorcrm.recommend.base import Recommender
from tailorcrm.recommend.default import default_recommender
from tailorcrm.recommend.ranking import RankingConfig

N_ITEMS, N_CUSTOMERS = 60, 80
GROUPS = ("A", "B", "C", "D")


@cache
def data() -> Dataset:
    """Four taste groups; views, purchases and a few rejects; some customers denied consent."""
    rng = np.random.default_rng(3)
    group = rng.integers(0, len(GROUPS), N_ITEMS)
    items = pd.DataFrame({
        "title": [f"item {i}" for i in range(N_ITEMS)],
        "categories": [[GROUPS[g]] for g in group],
        "price": rng.uniform(5, 200, N_ITEMS).round(2),
        "available": rng.random(N_ITEMS) > 0.05,
        "brand": rng.choice(["acme", "zen", "mono"], N_ITEMS),
    }, index=pd.Index([f"i{i}" for i in range(N_ITEMS)], name="item_id"))
    start = pd.Timestamp("2024-01-01", tz="UTC")
    rows = []
    for c in range(N_CUSTOMERS):
        liked = np.flatnonzero(group == c % len(GROUPS))
        for i in rng.choice(liked, size=min(6, len(liked)), replace=False):
            kind = rng.choice(["view", "purchase", "view", "reject"], p=[0.5, 0.3, 0.15, 0.05])
            rows.append({"customer_id": f"c{c}", "item_id": f"i{i}", "type": str(kind),
                         "ts": start + pd.Timedelta(days=int(rng.integers(0, 90)))})
    customers = pd.DataFrame({
        "consent_personalization": ["denied" if c % 11 == 5 else "granted"
                                    for c in range(N_CUSTOMERS)],
        "budget": [50.0 if c % 3 == 0 else 500.0 for c in range(N_CUSTOMERS)],
    }, index=pd.Index([f"c{c}" for c in range(N_CUSTOMERS)], name="customer_id"))
    return Dataset.from_events(pd.DataFrame(rows), customers=customers, items=items)


MODELS: dict[str, list[dict[str, Any]]] = {
    "itemknn": [{"kind": "itemknn"}],
    "ease": [{"kind": "ease"}],
    "popularity": [{"kind": "popularity"}],
    "blend": [{"kind": "itemknn", "weight": 1.0}, {"kind": "ease", "weight": 0.5}],
    "tenant": [],  # the tenant's trained recommender (the default hybrid here)
}
RULES = [
    {"filters": [{"name": "budget", "expression": "item.price <= customer.budget"}]},
    {"boosters": [{"name": "acme", "when": "item.brand == 'acme'", "factor": 3.0}]},
    {"filters": [{"name": "not-mono", "expression": "item.brand != 'mono'"}],
     "boosters": [{"name": "upgrade", "when": "needs.upgrade > 0.5", "factor": 2.0}]},
]


@cache
def fitted(name: str) -> Recommender:
    if name == "tenant":
        return default_recommender().fit(data())
    body = {"name": "probe", "models": MODELS[name]}
    return strategy_to_recommender(Strategy.model_validate(body)).fit(data())


@st.composite
def strategies(draw: st.DrawFn) -> tuple[str, Strategy]:
    model = draw(st.sampled_from(sorted(MODELS)))
    if model == "tenant" and draw(st.booleans()):
        return model, SHIPPED_DEFAULT
    body: dict[str, Any] = {"name": "probe", "models": MODELS[model],
                            "count": draw(st.integers(1, 12)),
                            "pool": draw(st.integers(5, 60))}
    if draw(st.booleans()):
        body["rules"] = draw(st.sampled_from(RULES))
    if draw(st.booleans()):
        body["diversity"] = {"max_per_group": draw(st.integers(1, 3)), "field": "category"}
    body["exclusions"] = {"bought": draw(st.sampled_from([None, True, False])),
                          "unavailable": draw(st.booleans()),
                          "bought_types": draw(st.sampled_from([("purchase",),
                                                                ("purchase", "view")]))}
    return model, Strategy.model_validate(body)


def same(a: StrategyResult, b: StrategyResult) -> None:
    assert [c.item_id for c in a.items] == [c.item_id for c in b.items]
    assert [c.score for c in a.items] == pytest.approx([c.score for c in b.items], rel=1e-9,
                                                       abs=1e-12)
    for x, y in zip(a.items, b.items, strict=True):
        assert [(r.kind, r.label, r.ref) for r in x.reasons] == \
            [(r.kind, r.label, r.ref) for r in y.reasons]
        assert [r.weight for r in x.reasons] == pytest.approx([r.weight for r in y.reasons])
    assert a.source == b.source
    assert a.rule_stats.errors == b.rule_stats.errors


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(picked=strategies(),
       customers=st.lists(st.sampled_from([f"c{c}" for c in range(N_CUSTOMERS)] +
                                          ["stranger", "c5", "c16"]),
                          min_size=1, max_size=12, unique=True),
       chosen_bought=st.booleans())
def test_batch_equals_online(picked: tuple[str, Strategy], customers: list[str],
                             chosen_bought: bool) -> None:
    model_name, strategy = picked
    chosen = RankingConfig(exclude_bought=chosen_bought) if model_name == "tenant" else None
    pipeline = Pipeline.build(strategy, fitted(model_name), data(), chosen=chosen)

    def extra_of(customer_id: str) -> dict[str, Any]:
        return {"needs": {"upgrade": 0.9 if customer_id.endswith("1") else 0.1}}

    batch = pipeline.recommend_many(customers, extra_of=extra_of)
    for customer_id in customers:
        same(batch[customer_id], pipeline.recommend(customer_id, extra=extra_of(customer_id)))


def test_batch_path_is_taken_and_rules_apply() -> None:
    """The batch path answers known consenting customers (not one by one), and the lists it
    gives obey the strategy's rule."""
    strategy = Strategy.model_validate({"name": "probe", "models": MODELS["itemknn"],
                                        "rules": RULES[0], "count": 5})
    pipeline = Pipeline.build(strategy, fitted("itemknn"), data())
    ids = [f"c{c}" for c in range(N_CUSTOMERS)]
    assert len(pipeline.ranker.batchable(ids)) >= N_CUSTOMERS - 8
    lists = pipeline.recommend_many(ids)
    prices = data().items["price"]
    budget = data().customers["budget"]
    for cid, result in lists.items():
        assert result.items
        assert all(prices[c.item_id] <= budget[cid] for c in result.items)
    assert RuleSet.model_validate(RULES[0]).filters[0].name == "budget"
