"""The batch path of ranking gives what the single-customer path gives, for every model."""

from __future__ import annotations

import numpy as np
import pytest

from tailorcrm.data.dataset import Dataset
from tailorcrm.recommend.ranking import Ranker, RankingConfig, Recommendation
from tailorcrm.recommend.selection import REPEATS, Selection, build_choice, served_ranking

CHOICES = ("ease", "itemknn", "als", "content", "ease_customer", "default",
           "buy_again+default", "buy_again", "ease" + REPEATS, "popularity",
           "popularity:industry")


def _ranker(data: Dataset, chosen: str) -> Ranker:
    repeats = "allow" if chosen.endswith(REPEATS) or chosen.startswith("buy_again") \
        else "exclude"
    choice = Selection(chosen=chosen, personalized=not chosen.startswith("popularity"),
                       repeats=repeats, params={chosen: {"weight": 2.0}})
    return Ranker(build_choice(choice).fit(data), data,
                  served_ranking(choice, RankingConfig(n=10)))


def _same(batch: list[Recommendation], single: list[Recommendation]) -> None:
    assert [r.item_id for r in batch] == [r.item_id for r in single]
    np.testing.assert_allclose([r.score for r in batch], [r.score for r in single],
                               rtol=1e-9, atol=1e-9)
    for b, s in zip(batch, single, strict=True):
        assert [(x.kind, x.label, x.ref) for x in b.reasons] == \
            [(x.kind, x.label, x.ref) for x in s.reasons]
        np.testing.assert_allclose([x.weight for x in b.reasons],
                                   [x.weight for x in s.reasons], rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("chosen", CHOICES)
def test_batch_lists_equal_single_lists_for_random_customers(demo_data: Dataset,
                                                            chosen: str) -> None:
    ranker = _ranker(demo_data, chosen)
    rng = np.random.default_rng(sum(map(ord, chosen)))
    ids = [str(c) for c in rng.choice(demo_data.customer_vocab.ids, 40, replace=False)]
    batch = ranker.recommend_for([*ids, "nobody-knows-me"])
    assert list(batch) == [*ids, "nobody-knows-me"]
    for c in ids:
        _same(batch[c], ranker.recommend(c))
    assert any(r.reasons for recs in batch.values() for r in recs)


def test_history_reasons_are_labelled_from_the_customers_own_events(demo_data: Dataset
                                                                    ) -> None:
    ranker = _ranker(demo_data, "ease")
    ids = [str(c) for c in demo_data.customer_vocab.ids[:60]]
    labels = [x.label for recs in ranker.recommend_for(ids).values() for r in recs
              for x in r.reasons if x.kind == "history_item"]
    assert labels and all(x.split(" ")[0] in {"bought", "viewed", "clicked", "added",
                                              "rated", "liked"} for x in labels)


def test_the_unbatched_path_gives_the_same_lists(demo_data: Dataset) -> None:
    ranker = _ranker(demo_data, "default")
    ids = [str(c) for c in demo_data.customer_vocab.ids[:25]]
    fast, slow = ranker.recommend_for(ids), ranker.recommend_for(ids, batch=False)
    for c in ids:
        _same(fast[c], slow[c])


def test_live_events_take_the_single_path_and_stay_consistent(demo_data: Dataset) -> None:
    import pandas as pd

    ranker = _ranker(demo_data, "ease")
    customer = str(demo_data.customer_vocab.ids[0])
    item = str(demo_data.item_vocab.ids[0])
    ranker.add_events(pd.DataFrame({"customer_id": [customer], "item_id": [item],
                                    "type": ["view"], "value": [1.0],
                                    "ts": [pd.Timestamp("2030-01-01", tz="UTC")]}))
    _same(ranker.recommend_for([customer])[customer], ranker.recommend(customer))
