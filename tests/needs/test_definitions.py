"""Need definitions: labels at a cut-off, population, config round trip and clear errors."""

from __future__ import annotations

import pandas as pd
import pytest
from planted_needs import START, planted

from tailorcrm.data.dataset import Dataset
from tailorcrm.errors import ConfigError, InsufficientDataError, ValidationError
from tailorcrm.needs.definitions import (
    ChurnNeed,
    LabelNeed,
    PropensityNeed,
    SpendNeed,
    list_needs,
    load_need,
    parse_need,
    save_need,
)
from tailorcrm.store import Store


def _tiny() -> Dataset:
    ts = pd.Timestamp("2024-01-01", tz="UTC")
    rows = [  # a: buys before and after; b: only before; c: only after (not in population)
        ("a", "i1", "purchase", ts), ("a", "i2", "purchase", ts + pd.Timedelta(days=40)),
        ("b", "i1", "purchase", ts + pd.Timedelta(days=5)),
        ("b", "i2", "view", ts + pd.Timedelta(days=45)),
        ("c", "i2", "purchase", ts + pd.Timedelta(days=50)),
        ("a", "i1", "view", ts + pd.Timedelta(days=100)),
    ]
    ev = pd.DataFrame(rows, columns=["customer_id", "item_id", "type", "ts"])
    ev["value"] = 2.0
    data = Dataset.from_events(ev)
    data.items["categories"] = [["x"], ["y"]]
    data.items["price"] = [3.0, 5.0]
    return data


def test_derived_labels_follow_the_window() -> None:
    data = _tiny()
    cut = pd.Timestamp("2024-01-31", tz="UTC")
    churn = ChurnNeed(name="churn", horizon_days=30, min_positives=1).labels(data, cut)
    assert churn.to_dict() == {"a": 0, "b": 1}
    buys_y = PropensityNeed(name="buys_y", horizon_days=30, categories=("y",),
                            min_positives=1).labels(data, cut)
    assert buys_y.to_dict() == {"a": 1, "b": 0}
    spend = SpendNeed(name="spend", horizon_days=30, min_positives=1).labels(data, cut)
    assert spend.to_dict() == {"a": 10.0, "b": 0.0}


def test_label_need_reads_positive_values() -> None:
    data = planted(200)
    y = LabelNeed(name="churn", field="churn", positive=("Yes",)).labels(data)
    assert len(y) == 200
    assert y.sum() == (data.customers["churn"] == "Yes").sum()


def test_too_few_positives_names_the_counts() -> None:
    data = _tiny()
    cut = pd.Timestamp("2024-01-31", tz="UTC")
    with pytest.raises(InsufficientDataError) as err:
        ChurnNeed(name="churn", horizon_days=30, min_positives=5).labels(data, cut)
    assert err.value.details["positives"] == 1
    assert err.value.details["negatives"] == 1


def test_label_field_missing_or_of_wrong_type() -> None:
    data = planted(100)
    with pytest.raises(ValidationError) as err:
        LabelNeed(name="x", field="nope", positive=("Yes",)).labels(data)
    assert err.value.details["field"] == "nope"
    with pytest.raises(ValidationError) as err:
        LabelNeed(name="x", field="budget", positive=(1,)).labels(data)
    assert err.value.details["field"] == "budget"
    with pytest.raises(ValidationError):  # a positive value outside the enum
        LabelNeed(name="x", field="contract", positive=(3.5,)).labels(data)


def test_cutoff_without_future_data() -> None:
    data = planted(100)
    late = START + pd.Timedelta(days=400)
    with pytest.raises(InsufficientDataError) as err:
        ChurnNeed(name="churn").labels(data, late)
    assert "no events" in err.value.message
    partial = START + pd.Timedelta(days=330)
    with pytest.raises(InsufficientDataError) as err:
        ChurnNeed(name="churn", horizon_days=90).labels(data, partial)
    assert err.value.details["horizon_days"] == 90


def test_parse_need_is_a_discriminated_union() -> None:
    need = parse_need({"kind": "propensity", "name": "buys_tea", "categories": ["tea"]})
    assert isinstance(need, PropensityNeed)
    with pytest.raises(ConfigError):
        parse_need({"kind": "churn", "name": "churn", "horizon": 30})  # extra key
    with pytest.raises(ConfigError):
        parse_need({"kind": "nope", "name": "x"})


def test_needs_are_stored_per_tenant(sqlite_url: str) -> None:
    store = Store.open(sqlite_url)
    try:
        tid = store.tenants.ensure("acme")
        need = ChurnNeed(name="churn", horizon_days=60)
        save_need(store, tid, need)
        save_need(store, tid, LabelNeed(name="label", field="churn", positive=("Yes",)))
        assert load_need(store, tid, "churn") == need
        assert [n.name for n in list_needs(store, tid)] == ["churn", "label"]
    finally:
        store.close()


def test_item_lists_that_match_nothing_are_named_with_a_hint() -> None:
    from tailorcrm.needs.definitions import check_item_refs, unknown_item_refs

    need = PropensityNeed(name="dairy", items=("cream cheese ", "milk", "Butter", "zzz"),
                          categories=("diary",))
    ids, cats = {"cream cheese", "milk", "butter"}, {"dairy", "bakery"}
    problems = unknown_item_refs(need, ids, cats)
    assert problems == [
        "item 'cream cheese ' matches no item (did you mean 'cream cheese'?)",
        "item 'Butter' matches no item (did you mean 'butter'?)",
        "item 'zzz' matches no item",
        "category 'diary' matches no item's category (did you mean 'dairy'?)",
    ]
    with pytest.raises(ValidationError, match="cream cheese ") as err:
        check_item_refs(need, ids, cats)
    assert err.value.details["problems"] == problems
    check_item_refs(PropensityNeed(name="ok", items=("milk",)), ids, cats)
    assert unknown_item_refs(ChurnNeed(name="churn"), ids, cats) == []
