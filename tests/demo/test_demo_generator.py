"""Generator: determinism, shapes and types the field specs accept, special rows, time range."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from tailorcrm.demo.config import DemoConfig
from tailorcrm.demo.fields import custom_fields
from tailorcrm.demo.generator import DemoData, generate
from tailorcrm.schema.event_types import DEFAULT_EVENT_TYPES
from tailorcrm.schema.fields import coerce_value

SMALL = {"n_customers": 120, "n_items": 40}


def test_same_seed_gives_identical_frames() -> None:
    a = generate(DemoConfig(seed=5, **SMALL))
    b = generate(DemoConfig(seed=5, **SMALL))
    for name in ("customers", "items", "events"):
        pd.testing.assert_frame_equal(getattr(a, name), getattr(b, name))
    assert a.truth.to_dict() == b.truth.to_dict()


def test_different_seed_gives_different_frames() -> None:
    a = generate(DemoConfig(seed=5, **SMALL))
    b = generate(DemoConfig(seed=6, **SMALL))
    assert not a.customers.equals(b.customers)
    assert not a.items.equals(b.items)
    assert len(a.events) != len(b.events) or not a.events.equals(b.events)


def test_config_forbids_unknown_keys_and_bad_ranges() -> None:
    with pytest.raises(ValidationError):
        DemoConfig.model_validate({"seed": 1, "n_users": 10})
    with pytest.raises(ValidationError):
        DemoConfig(start_date=dt.date(2025, 1, 1), end_date=dt.date(2025, 2, 1))
    with pytest.raises(ValidationError):
        DemoConfig(propensity_industry="astrology")


@pytest.mark.parametrize("entity, frame_name", [("customer", "customers"), ("item", "items"),
                                                ("event", "events")])
def test_every_custom_value_coerces_to_its_field(small_demo: DemoData, entity: str,
                                                 frame_name: str) -> None:
    frame = getattr(small_demo, frame_name)
    specs = custom_fields(entity)  # type: ignore[arg-type]
    assert specs, "every entity has custom fields"
    for spec in specs:
        assert spec.name in frame.columns
        for value in frame[spec.name]:
            coerce_value(spec, value)  # raises ValueError on a misfit


def test_builtin_columns(small_demo: DemoData) -> None:
    cu, it, ev = small_demo.customers, small_demo.items, small_demo.events
    assert cu["customer_id"].is_unique and it["item_id"].is_unique
    assert set(cu["consent_personalization"]) <= {"granted", "denied", "unknown"}
    assert set(cu["consent_marketing"]) <= {"granted", "denied", "unknown"}
    assert (it["price"] > 0).all() and it["available"].dtype == bool
    assert all(set(c) <= set(small_demo.config.categories) and c for c in it["categories"])
    assert set(ev["type"]) <= {t.name for t in DEFAULT_EVENT_TYPES}
    assert ev["idempotency_key"].is_unique
    ticket = ev["type"] == "service_ticket"
    assert ev.loc[ticket, "item_id"].isna().all() and ev.loc[~ticket, "item_id"].notna().all()
    assert set(ev.loc[~ticket, "item_id"]) <= set(it["item_id"])
    assert set(ev["customer_id"]) <= set(cu["customer_id"])
    assert str(ev["timestamp"].dt.tz) == "UTC" and ev["timestamp"].is_monotonic_increasing


def test_cold_start_customers_new_items_and_unavailable_items(demo: DemoData) -> None:
    truth, ev = demo.truth, demo.events
    assert len(truth.cold_start_customers) >= 0.02 * len(demo.customers)
    assert len(truth.new_items) >= 0.02 * len(demo.items)
    assert not set(truth.cold_start_customers) & set(ev["customer_id"])
    assert not set(truth.new_items) & set(ev["item_id"].dropna())
    assert 0 < (~demo.items["available"]).sum() < 0.1 * len(demo.items)
    denied = (demo.customers["consent_personalization"] == "denied").mean()
    assert 0.01 <= denied <= 0.08


def test_events_lie_in_the_date_range_and_not_in_the_future(demo: DemoData) -> None:
    ts = demo.events["timestamp"]
    start = pd.Timestamp(demo.config.start_date, tz="UTC")
    end = pd.Timestamp(demo.config.end_date + dt.timedelta(days=1), tz="UTC")
    assert ts.min() >= start and ts.max() < end
    assert ts.max() < pd.Timestamp.now(tz="UTC")


def test_no_event_after_a_customers_churn_date(demo: DemoData) -> None:
    per = demo.truth.per_customer.set_index("customer_id")
    churn_day = pd.to_datetime(per["churn_date"], utc=True) + pd.Timedelta(days=1)
    last = demo.events.groupby("customer_id")["timestamp"].max()
    gone = churn_day.dropna().index.intersection(last.index)
    assert len(gone) > 100
    assert (last.loc[gone] < churn_day.loc[gone]).all()


def test_item_text_uses_only_its_own_category_words(demo: DemoData) -> None:
    from tailorcrm.demo.vocabulary import CATEGORY_WORDS

    for _, row in demo.items.iterrows():
        words = set((row["title"] + " " + row["description"]).lower().replace(".", " ")
                    .replace(",", " ").split())
        own = {w for c in row["categories"] for w in CATEGORY_WORDS[c]}
        other = {w for c, ws in CATEGORY_WORDS.items() if c not in row["categories"]
                 for w in ws} - own
        assert len(words & own) >= 3 and not words & other


def test_to_dataset_matches_the_frames(demo: DemoData) -> None:
    ds = demo.to_dataset()
    assert ds.n_customers == len(demo.customers) and ds.n_items == len(demo.items)
    assert len(ds.events) == len(demo.events)
    assert ds.customers["company_size"].dtype == np.float64
    assert str(ds.events["ts"].dtype) == "datetime64[ns, UTC]"
    mask = ds.personalizable_customers()
    assert (~mask).sum() == (demo.customers["consent_personalization"] == "denied").sum()
    matrix = ds.interaction_matrix(weighting="binary")
    assert matrix.nnz > 10 * len(demo.customers)
