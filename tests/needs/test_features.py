"""Schema-aware features: one encoding per field type, readable names, no leakage."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
from planted_needs import START, planted

from tailorcrm.needs.behaviour import behaviour_features
from tailorcrm.needs.features import FeatureBuilder, FeatureConfig, feature_frame, feature_specs


def test_every_field_type_becomes_named_inputs() -> None:
    data = planted(300)
    cfg = FeatureConfig()
    specs = feature_specs(data, cfg)
    assert "churn" not in [s.name for s in specs]  # not flagged as a feature
    cut = START + pd.Timedelta(days=200)
    frame = feature_frame(data, data.customers.index, cut, specs, cfg)
    builder = FeatureBuilder(specs, cfg).fit(frame)
    X = builder.transform(frame)
    names = builder.names_
    assert X.shape == (300, len(names))
    assert "contract = month-to-month" in names
    assert "interests has golf" in names
    assert any(n.startswith("notes mentions") for n in names)
    assert "signup_date (age in days)" in names
    assert "newsletter" in names and "budget" in names
    assert {"recency_purchase_days", "frequency", "monetary", "service_tickets",
            "share_garden"} <= set(names)
    age = frame["signup_date"].to_numpy()
    signup = pd.to_datetime(data.customers["signup_date"], utc=True)
    np.testing.assert_allclose(age, ((cut - signup).dt.total_seconds() / 86400).to_numpy())
    assert np.isfinite(X).all()


def test_features_do_not_see_events_after_the_cutoff() -> None:
    data = planted(300)
    cut = START + pd.Timedelta(days=180)
    ids = data.customers.index
    before = behaviour_features(data, ids, cut)
    ev = data.events.copy()
    later = ev["ts"] >= cut
    ev.loc[later, "type"] = "return"  # change every later event ...
    ev.loc[later, "value"] = 99.0
    extra = ev[~later].head(500).copy()  # ... and add new ones after the cut-off
    extra["ts"] = cut + pd.Timedelta(hours=1)
    changed = data.with_events(pd.concat([ev, extra]).sort_values("ts", kind="stable"))
    after = behaviour_features(changed, ids, cut)
    pd.testing.assert_frame_equal(before, after)
    # ... while an event just before the cut-off does change them
    early = extra.assign(ts=cut - pd.Timedelta(hours=1))
    moved = data.with_events(pd.concat([data.events, early]).sort_values("ts", kind="stable"))
    assert not behaviour_features(moved, ids, cut).equals(before)


def test_blank_text_and_empty_lists_are_left_out() -> None:
    data = planted(60)
    customers = data.customers.copy()
    customers["notes"] = ""
    customers["interests"] = [[] for _ in range(len(customers))]
    blank = replace(data, customers=customers)
    cfg = FeatureConfig()
    specs = feature_specs(blank, cfg)
    frame = feature_frame(blank, customers.index, START + pd.Timedelta(days=200), specs, cfg)
    builder = FeatureBuilder(specs, cfg).fit(frame)
    assert not any(n.startswith(("notes", "interests")) for n in builder.names_)
    assert builder.transform(frame).shape[0] == 60


def test_optional_boolean_left_unset_through_the_store_trains(sqlite_url: str,
                                                               tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Customers created without an optional boolean load as pandas' nullable "boolean"
    (pd.NA); features, labels and the training job (what POST /v1/jobs/train runs) cope."""
    from planted_needs import planted_churn

    from tailorcrm.jobs.train import TrainConfig, train_tenant
    from tailorcrm.schema.fields import FieldSpec, FieldType
    from tailorcrm.store import Store

    data = planted_churn(300)
    with Store.open(sqlite_url) as store:
        tid = store.tenants.ensure("t")
        store.fields.add(tid, FieldSpec(entity="customer", name="vip", type=FieldType.BOOLEAN,
                                        feature=True))
        store.fields.add(tid, FieldSpec(entity="customer", name="contract",
                                        type=FieldType.ENUM, feature=True,
                                        enum_values=("month-to-month", "one-year", "two-year")))
        rows = [{"customer_id": c, "contract": k, **({"vip": i % 3 == 0} if i % 2 else {})}
                for i, (c, k) in enumerate(data.customers["contract"].items())]
        store.customers.upsert(tid, rows)
        ev = data.events.rename(columns={"ts": "timestamp"})
        store.events.add(tid, ev[["customer_id", "item_id", "type", "value",
                                  "timestamp"]].to_dict("records"))
        loaded = store.load_dataset(tid)
        assert str(loaded.customers["vip"].dtype) == "boolean"
        assert loaded.customers["vip"].isna().any()
        from tailorcrm.needs.definitions import ChurnNeed, LabelNeed, save_need

        save_need(store, tid, ChurnNeed(name="churn", horizon_days=60))
        save_need(store, tid, LabelNeed(name="vip_label", field="vip"))
        report = train_tenant(store, tid, tmp_path, TrainConfig(
            recommend=False, precompute=False, segments=False, strategies=False))
        assert report.needs["churn"]["source"] in ("model", "baseline")
        assert report.needs["churn"]["customers_scored"] == 300
        assert report.needs["vip_label"]["customers_scored"] == 300
