"""Popularity: global, per segment of any customer field, trending with time decay."""

from __future__ import annotations

import numpy as np
import pandas as pd

from tailorcrm.data.dataset import Dataset
from tailorcrm.recommend.popularity import Popularity


def _data() -> Dataset:
    # item "old" was bought a lot long ago, item "new" a little recently; segment A buys x, B y
    rows = [(f"a{i}", "old", "2024-01-01") for i in range(10)]
    rows += [(f"b{i}", "new", "2025-01-01") for i in range(4)]
    rows += [(f"a{i}", "x", "2024-06-01") for i in range(6)]
    rows += [(f"b{i}", "y", "2024-06-01") for i in range(4)]
    events = pd.DataFrame(rows, columns=["customer_id", "item_id", "ts"])
    ids = sorted(set(events["customer_id"]))
    customers = pd.DataFrame({"consent_personalization": "granted",
                              "consent_marketing": "granted",
                              "segment": ["A" if c.startswith("a") else "B" for c in ids]},
                             index=pd.Index(ids, name="customer_id"))
    return Dataset.from_events(events, customers=customers)


def test_global_popularity_counts_customers() -> None:
    data = _data()
    scores = Popularity().fit(data).score(0)
    items = data.item_vocab
    assert scores[items.index_of("old")] > scores[items.index_of("x")] \
        > scores[items.index_of("new")]


def test_trending_decays_old_events() -> None:
    data = _data()
    scores = Popularity(half_life_days=30.0).fit(data).score(0)
    assert scores[data.item_vocab.index_of("new")] > scores[data.item_vocab.index_of("old")]


def test_segment_popularity_by_any_customer_field() -> None:
    data = _data()
    model = Popularity(segment_field="segment", shrinkage=1.0).fit(data)
    a = model.score(data.customer_vocab.index_of("a1"))
    b = model.score(data.customer_vocab.index_of("b1"))
    x, y = data.item_vocab.index_of("x"), data.item_vocab.index_of("y")
    assert a[x] > a[y] and b[y] > b[x]
    assert model.segment_of(data.customer_vocab.index_of("b1")) == "B"
    assert np.isfinite(model.score(-1)).all()  # anyone else: global popularity
