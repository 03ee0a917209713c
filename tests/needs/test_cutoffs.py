"""The cut-off follows the data, not the wall clock: live events dated now do not starve labels."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from planted_needs import planted_churn

from tailorcrm.data.dataset import Dataset
from tailorcrm.errors import InsufficientDataError
from tailorcrm.needs.cutoffs import data_end
from tailorcrm.needs.definitions import ChurnNeed, parse_need
from tailorcrm.needs.model import ModelConfig
from tailorcrm.needs.training import train_need

NEED = ChurnNeed(name="churn", horizon_days=60)


def _with_live_events(data: Dataset, n: int = 50, seed: int = 0) -> Dataset:
    """``n`` purchases dated now by existing customers, as a live API would send them."""
    rng = np.random.default_rng(seed)
    now = pd.Timestamp.now(tz="UTC")
    live = pd.DataFrame({
        "customer_id": rng.choice(data.customers.index.to_numpy(), n),
        "item_id": rng.choice(data.items.index.to_numpy(), n), "type": "purchase",
        "value": 1.0, "ts": now - pd.to_timedelta(rng.integers(0, 3600, n), unit="s"),
    })
    events = pd.concat([data.events, live.astype({"customer_id": str, "item_id": str})],
                       ignore_index=True).sort_values("ts", kind="stable")
    return Dataset(customers=data.customers, items=data.items,
                   events=events.reset_index(drop=True), customer_fields=data.customer_fields)


def test_data_end_of_a_steady_tenant_is_its_last_event() -> None:
    data = planted_churn(300)
    assert data_end(data.events["ts"], 60) == data.events["ts"].max()


def test_fifty_live_events_keep_the_historical_cutoff_and_both_classes() -> None:
    historical = planted_churn(600)
    data = _with_live_events(historical)
    last_historical = historical.events["ts"].max()
    assert data.events["ts"].max() > last_historical + pd.Timedelta(days=300)
    assert NEED.data_end(data) == last_historical
    y = NEED.labels(data)
    assert 0 < y.mean() < 1 and (y == 0).sum() >= 10 and (y == 1).sum() >= 10
    # what the wall clock did: one horizon before now, nearly every customer churned
    wall_clock = NEED.model_copy(update={"as_of": data.events["ts"].max()})
    y_wall = wall_clock.labels(data, check=False)  # only the live buyers are not churners
    assert y_wall.mean() > 0.9 and y_wall.mean() > y.mean() + 0.3
    with pytest.raises(InsufficientDataError, match="no events at or after the cut-off"):
        NEED.labels(data, data.events["ts"].max() - pd.Timedelta(days=60))
    model = train_need(data, NEED, ModelConfig(inner_folds=2))
    assert model.train_target_.min() == 0 and model.train_target_.max() == 1


def test_live_events_count_once_they_are_a_substantial_volume() -> None:
    historical = planted_churn(300)
    per_day = len(historical.events) / 360
    live = _with_live_events(historical, n=int(per_day * 60))  # a normal horizon's volume
    assert NEED.data_end(live) > historical.events["ts"].max() + pd.Timedelta(days=300)


def test_explicit_as_of_sets_where_the_labels_end() -> None:
    data = _with_live_events(planted_churn(300))
    as_of = pd.Timestamp("2024-10-01", tz="UTC")
    need = parse_need({"kind": "churn", "name": "churn", "horizon_days": 60,
                       "as_of": as_of.isoformat()})
    assert need.default_cutoff(data) == as_of - pd.Timedelta(days=60)
    assert len(need.labels(data)) > 0
