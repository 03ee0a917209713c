"""A strategy end to end on planted data: exclusions, rules, diversity, reasons, evaluation."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from customize_planted import CATEGORIES, planted_dataset

from tailorcrm.customize.pipeline import Pipeline, StrategyResult, diversify
from tailorcrm.customize.rule_engine import Candidate
from tailorcrm.customize.rules import BoostRule, FilterRule, RuleSet
from tailorcrm.customize.strategies import Diversity, Strategy, strategy_to_recommender
from tailorcrm.customize.strategy_scorer import StrategyScorer
from tailorcrm.data.dataset import Dataset


@pytest.fixture(scope="module")
def data() -> Dataset:
    return planted_dataset()


def strategy(**changes: object) -> Strategy:
    body: dict[str, object] = {"name": "homepage", "models": [{"kind": "itemknn"}],
                               "count": 6, **changes}
    return Strategy.model_validate(body)


def bought(data: Dataset, customer_id: str) -> set[str]:
    ev = data.events
    return set(ev.loc[(ev["customer_id"] == customer_id) & (ev["type"] == "purchase"),
                      "item_id"])


def pipeline(data: Dataset, s: Strategy, model: object | None = None) -> Pipeline:
    fitted = model if model is not None else strategy_to_recommender(s).fit(data)
    return Pipeline.build(s, fitted, data)  # type: ignore[arg-type]


def serve(data: Dataset, s: Strategy, customer_id: str, **kw: object) -> StrategyResult:
    return pipeline(data, s).recommend(customer_id, **kw)  # type: ignore[arg-type]


def test_exclusions_come_from_the_strategy(data: Dataset) -> None:
    s = strategy(models=[{"kind": "popularity"}], count=12)
    model = strategy_to_recommender(s).fit(data)
    excluded = pipeline(data, s, model).ranker.excluded("c0")
    assert {data.item_vocab.id(int(i)) for i in np.flatnonzero(excluded)} == \
        bought(data, "c0") | {"i5", "i1"}
    loose = strategy(models=[{"kind": "popularity"}], count=12, exclusions={
        "bought": False, "unavailable": False, "rejected": False})
    assert not pipeline(data, loose, model).ranker.excluded("c0").any()
    again = strategy(models=[{"kind": "popularity"}], count=12,
                     exclusions={"repurchasable_categories": ["A"]})
    assert {data.item_vocab.id(int(i)) for i in np.flatnonzero(
        pipeline(data, again, model).ranker.excluded("c0"))} == {"i1", "i5"}
    ids = [c.item_id for c in serve(data, loose, "c0").items]
    assert {"i1", "i5"} <= set(ids)


def test_list_respects_exclusions_and_planted_taste(data: Dataset) -> None:
    result = serve(data, strategy(), "c2")
    ids = [c.item_id for c in result.items]
    assert ids and not (set(ids) & (bought(data, "c2") | {"i5"}))
    # c2 is an "A" customer: the unseen A items lead the list.
    assert CATEGORIES[int(ids[0][1:])] == "A"
    assert result.source == "itemknn"  # the chain's first model answered
    assert result.items[0].reasons  # scored items carry the model's reasons
    assert any(r.kind == "history_item" and r.label.startswith("bought item ")
               for c in result.items for r in c.reasons)


def test_rules_filter_and_boost_change_the_list(data: Dataset) -> None:
    rules = RuleSet(filters=(FilterRule(name="budget",
                                        expression="item.price <= customer.budget"),),
                    boosters=(BoostRule(name="acme", when="item.brand == 'acme'",
                                        factor=100.0),))
    s = strategy(rules=rules.model_dump())
    served = pipeline(data, s)
    poor = served.recommend("c0")  # budget 60: only i0..i5
    assert all(int(c.item_id[1:]) <= 5 for c in poor.items)
    assert poor.rule_stats.of("budget").excluded > 0
    # A per-request override replaces the stored rules.
    loose = served.recommend("c0", rules=RuleSet())
    assert any(int(c.item_id[1:]) > 5 for c in loose.items)

    plain = served.recommend("c1", rules=RuleSet())
    boosted = served.recommend("c1")
    acme_rank = [sum(int(c.item_id[1:]) % 2 for c in r.items[:3]) for r in (plain, boosted)]
    assert acme_rank[1] >= acme_rank[0]
    top = boosted.items[0]
    assert int(top.item_id[1:]) % 2 == 1  # an acme item
    assert any(r.kind == "rule" and "'acme'" in r.label for r in top.reasons)
    assert boosted.rule_stats.of("acme").boosted > 0


def test_diversity_cap_holds(data: Dataset) -> None:
    s = strategy(models=[{"kind": "popularity"}], diversity={"max_per_group": 1}, count=6)
    served = pipeline(data, s)
    for customer_id in ("c0", "c1", "new-customer"):
        result = served.recommend(customer_id)
        cats = [CATEGORIES[int(c.item_id[1:])] for c in result.items]
        assert len(cats) == len(set(cats)) >= 2  # one per category, never two


def test_diversify_on_hand_made_list() -> None:
    items: dict[str, dict[str, Any]] = {
        "a": {"category": "x"}, "b": {"category": "x"}, "c": {"category": "y"},
        "d": {"category": "x"}, "e": {}, "f": {"categories": ["x", "y"]}}
    cands = [Candidate(i, 1.0 - k / 10) for k, i in enumerate("abcdef")]
    out = diversify(cands, items, Diversity(max_per_group=2), n=10)
    assert [c.item_id for c in out] == ["a", "b", "c", "e", "f"]
    lists: dict[str, dict[str, Any]] = {"a": {"categories": ["x"]}, "b": {"categories": ["y"]},
             "c": {"categories": ["x", "z"]}, "d": {"categories": ["z"]}}
    multi = diversify(cands[:4], lists, Diversity(max_per_group=1, field="categories"), n=10)
    assert [c.item_id for c in multi] == ["a", "b", "d"]
    assert len(diversify(cands, items, Diversity(), n=3)) == 3


def test_cold_customer_is_answered_by_the_fallback(data: Dataset) -> None:
    result = serve(data, strategy(fallback=[{"kind": "popularity"}]), "never-seen")
    assert result.source == "popularity" and len(result.items) == 6


def test_scorer_gives_the_evaluation_engine_the_served_lists(data: Dataset) -> None:
    from tailorcrm.evaluation.runner import top_k

    s = strategy(diversity={"max_per_group": 2}, count=4)
    scorer = StrategyScorer(s).fit(data)
    customers = np.arange(6)
    seen = data.interaction_matrix(weighting="count")
    lists = top_k(scorer, customers, seen, k=4)
    for row, cidx in enumerate(customers):
        cid = data.customer_vocab.id(int(cidx))
        served = scorer.pipeline_.recommend(cid)
        assert [data.item_vocab.id(int(i)) for i in lists[row] if i >= 0] == [
            c.item_id for c in served.items]


def test_consent_denied_and_live_rejection(data: Dataset) -> None:
    import pandas as pd

    customers = data.customers.copy()
    customers.loc["c2", "consent_personalization"] = "denied"
    denied = Dataset.from_events(data.events, customers=customers, items=data.items)
    s = strategy(fallback=[{"kind": "popularity"}])
    result = pipeline(denied, s).recommend("c2")
    assert result.source == "popularity (personalization off)"
    assert all(r.kind == "popular" for c in result.items for r in c.reasons)

    served = pipeline(data, s)
    first = served.recommend("c4").items[0].item_id
    served.ranker.add_events(pd.DataFrame([{"customer_id": "c4", "item_id": first, "type": "reject",
                                     "ts": pd.Timestamp("2024-06-01", tz="UTC")}]))
    assert first not in [c.item_id for c in served.recommend("c4").items]


def test_offline_evaluation_of_a_strategy(data: Dataset, sqlite_url: str) -> None:
    from tailorcrm.customize.strategies import save_strategy
    from tailorcrm.customize.strategy_scorer import stored_strategy_scorer
    from tailorcrm.evaluation.runner import EvaluationConfig, evaluate
    from tailorcrm.store import Store

    purchases = data.with_events(data.events[data.events["type"] == "purchase"])
    config = EvaluationConfig(include_default=False, k=3)
    plain = strategy(fallback=[], exclusions={"bought": False, "unavailable": False,
                                              "rejected": False})
    capped = plain.model_copy(update={"name": "capped",
                                      "diversity": Diversity(max_per_group=1)})
    with Store.open(sqlite_url) as store:
        tid = store.tenants.ensure("shop")
        save_strategy(store.configs, tid, capped)
        from_store = stored_strategy_scorer(store, tid, "capped")
    report = evaluate(purchases, config, models={
        "model": strategy_to_recommender(plain), "plain": StrategyScorer(plain),
        "capped": from_store})["models"]
    # Without rules, caps or exclusions the strategy's lists are the model's lists.
    for metric in ("ndcg@3", "precision@3", "recall@3", "map"):
        assert report["plain"][metric] == pytest.approx(report["model"][metric])
    # One item per category on this planted data costs accuracy (tastes are per category).
    assert report["capped"]["ndcg@3"] < report["plain"]["ndcg@3"]
