"""The per-tenant model choice on planted tenants: repeats, taste groups, pure noise."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tailorcrm.data.dataset import Dataset
from tailorcrm.errors import ConfigError
from tailorcrm.evaluation.metrics import ranking_metrics
from tailorcrm.recommend.buy_again import RepeatBlend
from tailorcrm.recommend.carve import carve, ndcg_rows
from tailorcrm.recommend.fallback import FallbackChain
from tailorcrm.recommend.ranking import NOT_PERSONALIZED, Ranker, RankingConfig, top_k
from tailorcrm.recommend.selection import SelectionConfig, select, served_ranking

START = pd.Timestamp("2025-01-01", tz="UTC")


def repeat_tenant(seed: int = 0, n_customers: int = 150, n_items: int = 80) -> Dataset:
    """Grocery-like: each customer re-buys 4 personal staples most weeks, plus one random
    item a week (no shared tastes beyond that)."""
    rng = np.random.default_rng(seed)
    rows = []
    for c in range(n_customers):
        staples = rng.choice(n_items, size=4, replace=False)
        for week in range(10):
            basket = [s for s in staples if rng.random() < 0.75] + [int(rng.integers(n_items))]
            rows += [(f"c{c}", f"i{int(i)}", START + pd.Timedelta(days=7 * week + c % 5))
                     for i in basket]
    return Dataset.from_events(pd.DataFrame(rows, columns=["customer_id", "item_id", "ts"]))


def taste_tenant(seed: int = 0, n_customers: int = 160, n_items: int = 60) -> Dataset:
    """Four taste groups; customers buy distinct items of their group, never twice."""
    rng = np.random.default_rng(seed)
    rows = []
    for c in range(n_customers):
        own = np.flatnonzero(np.arange(n_items) % 4 == c % 4)
        p = 1.0 / np.arange(1, len(own) + 1) ** 0.5
        picks = rng.choice(own, size=10, replace=False, p=p / p.sum())
        rows += [(f"c{c}", f"i{int(i)}", START + pd.Timedelta(days=3 * t))
                 for t, i in enumerate(picks)]
    return Dataset.from_events(pd.DataFrame(rows, columns=["customer_id", "item_id", "ts"]))


def noise_tenant(seed: int = 0, n_customers: int = 300, n_items: int = 100) -> Dataset:
    """Nothing to learn: every purchase is an independent draw from one skewed popularity."""
    rng = np.random.default_rng(seed)
    p = 1.0 / np.arange(1, n_items + 1)
    n = n_customers * 8
    ev = pd.DataFrame({"customer_id": [f"c{c}" for c in rng.integers(0, n_customers, n)],
                       "item_id": [f"i{i}" for i in rng.choice(n_items, n, p=p / p.sum())],
                       "ts": START + pd.to_timedelta(rng.integers(0, 180 * 86400, n),
                                                     unit="s")})
    return Dataset.from_events(ev)


def test_repeats_planted_buy_again_wins_and_serves_repeats() -> None:
    data = repeat_tenant()
    choice, model = select(data)
    assert choice.chosen.startswith("buy_again"), choice.scores
    assert choice.personalized and choice.repeats == "allow"
    assert choice.margin_over_popularity is not None and choice.margin_over_popularity > 0.5
    assert choice.scores[choice.chosen] > choice.scores["default"]  # repeats excluded there
    assert isinstance(model, FallbackChain) and isinstance(model.models[0], RepeatBlend)
    ranking = served_ranking(choice, RankingConfig())
    assert not ranking.exclude_bought
    ranker = Ranker(model.fit(data), data, ranking)
    bought = set(data.events.loc[data.events["customer_id"] == "c0", "item_id"])
    recs = ranker.recommend("c0")
    assert bought & {r.item_id for r in recs[:4]}
    assert any(reason.label.startswith("bought") for reason in recs[0].reasons)


def test_taste_groups_a_personalized_model_wins_with_repeats_excluded() -> None:
    choice, _ = select(taste_tenant())
    assert choice.personalized and choice.repeats == "exclude", choice.scores
    assert choice.chosen in {"default", "ease", "ease_customer", "itemknn", "als", "content"}
    assert choice.chosen_ndcg is not None and choice.popularity_ndcg is not None
    assert choice.chosen_ndcg > 2 * choice.popularity_ndcg


def test_pure_noise_popularity_wins_and_lists_say_not_personalized() -> None:
    data = noise_tenant()
    choice, model = select(data)
    assert not choice.personalized and choice.chosen.startswith("popularity"), choice.scores
    assert choice.note and choice.margin_over_popularity is not None
    ranking = served_ranking(choice, RankingConfig())
    ranker = Ranker(model.fit(data), data, ranking)
    for customer in ("c1", "somebody-new"):
        recs = ranker.recommend(customer)
        assert len(recs) == 10
        for rec in recs:
            assert rec.reasons and rec.reasons[0].kind == "popular"
            assert NOT_PERSONALIZED in rec.reasons[0].label


def test_stats_carry_scores_carve_and_sizes() -> None:
    choice, _ = select(repeat_tenant(n_customers=60), SelectionConfig(
        max_validation_customers=40))
    body = choice.model_dump(mode="json")
    assert {"popularity", "buy_again", "default", "ease", "als", "itemknn"} <= set(body["scores"])
    assert body["carve"]["kind"] == "per_customer" and body["carve"]["sampled"]
    assert body["carve"]["validation_customers"] == 40
    assert body["carve"]["fit_events"] + body["carve"]["validation_events"] > 0
    assert body["skipped"]["content"].startswith("items have no")
    assert body["seconds"] > 0


def test_tenant_overrides_force_a_model_and_the_repeat_policy() -> None:
    data = repeat_tenant(n_customers=60)
    forced, _ = select(data, SelectionConfig(force="popularity"))
    assert forced.chosen == "popularity" and forced.forced and not forced.personalized
    no_repeats, _ = select(data, SelectionConfig(repeats="exclude"))
    assert no_repeats.repeats == "exclude"
    assert not any(n.startswith("buy_again") or n.endswith("+repeats")
                   for n in no_repeats.scores)
    with pytest.raises(ConfigError):
        select(data, SelectionConfig(force="buy_again", repeats="exclude"))
    off, _ = select(data, SelectionConfig(enabled=False))
    assert off.chosen == "default" and not off.scores


def test_too_few_validation_customers_get_popularity_said_so() -> None:
    # no evidence that personalizing helps: popularity, not a hybrid called personalized
    choice, _ = select(taste_tenant(n_customers=8))
    assert choice.chosen == "popularity" and not choice.personalized
    assert "validation customers" in choice.note and "popularity is served" in choice.note


def test_carve_is_temporal_per_customer_and_keeps_baskets_whole() -> None:
    data = repeat_tenant(n_customers=20)
    cut = carve(data)
    fit, held = cut.fit.events, data.events.merge(cut.fit.events, how="left", indicator=True)
    assert len(fit) + cut.description["validation_events"] == len(data.events)
    held = held[held["_merge"] == "left_only"]
    for customer, part in held.groupby("customer_id"):
        kept = fit[fit["customer_id"] == customer]
        assert part["ts"].min() > kept["ts"].max()  # later than everything kept
    again = carve(data)
    assert again.description == cut.description
    one_order = data.with_events(data.events.assign(ts=START))
    assert carve(one_order).description["kind"] == "global"


def test_ndcg_rows_average_is_ranking_metrics_ndcg() -> None:
    data = taste_tenant(n_customers=40)
    rng = np.random.default_rng(3)
    scores = rng.random((data.n_customers, data.n_items))
    best = top_k(scores, 10)
    relevant = data.interaction_matrix(weighting="binary")
    assert np.isclose(ndcg_rows(best, relevant, 10).mean(),
                      ranking_metrics(best, relevant, 10)["ndcg"])
