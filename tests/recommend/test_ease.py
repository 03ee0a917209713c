"""EASE specifics: the catalog-size guard and history-item reasons."""

from __future__ import annotations

import pandas as pd
import pytest

from tailorcrm.data.dataset import Dataset
from tailorcrm.errors import InsufficientDataError
from tailorcrm.recommend.ease import EASE


def _data(n_items: int) -> Dataset:
    events = pd.DataFrame({"customer_id": [f"c{i % 7}" for i in range(n_items)],
                           "item_id": [f"i{i}" for i in range(n_items)]})
    return Dataset.from_events(events)


def test_refuses_catalogs_beyond_max_items_with_a_clear_error() -> None:
    with pytest.raises(InsufficientDataError, match="max_items=50"):
        EASE(max_items=50).fit(_data(51))
    EASE(max_items=50).fit(_data(50))


def test_explain_names_the_history_items_that_led_to_it() -> None:
    # c0..c9 bought a+b; c10 bought only a: b is recommended because of a
    rows = [(f"c{i}", item) for i in range(10) for item in ("a", "b")] + [("c10", "a")]
    data = Dataset.from_events(pd.DataFrame(rows, columns=["customer_id", "item_id"]))
    model = EASE(lam=1.0).fit(data)
    reasons = model.explain(data.customer_vocab.index_of("c10"), data.item_vocab.index_of("b"))
    assert [(r.kind, r.ref) for r in reasons] == [("history_item",
                                                   str(data.item_vocab.index_of("a")))]
    assert reasons[0].weight == pytest.approx(1.0)
