"""One organization's custom fields, end to end: filled by an import, flagged as features,
and after retraining visible in content similarity, need features and reasons, and segment
profiles — with config alone, no code."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tailorcrm.ingest.mapping import load_mapping
from tailorcrm.ingest.service import run_import
from tailorcrm.jobs.train import TrainConfig, train_tenant
from tailorcrm.needs.definitions import ChurnNeed, save_need
from tailorcrm.recommend.content import ContentBased
from tailorcrm.store import Store

NOW = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
START = pd.Timestamp("2024-07-01", tz="UTC")

ITEMS_PLAIN = """name = "items-plain"
entity = "items"
[fields]
item_id = "item_id"
title = "title"
price = "price"
[categories]
column = "categories"
"""
ITEMS_WITH_MATERIAL = ITEMS_PLAIN.replace('"items-plain"', '"items-material"') + """
[[attributes]]
column = "material"
field = "material"
type = "enum"
enum_values = ["wood", "steel"]
feature = true
"""
CUSTOMERS_PLAIN = """name = "customers-plain"
entity = "customers"
[fields]
customer_id = "customer_id"
"""
CUSTOMERS_WITH_PLAN = CUSTOMERS_PLAIN.replace('"customers-plain"', '"customers-plan"') + """
[[attributes]]
column = "plan"
field = "plan"
type = "enum"
enum_values = ["basic", "pro"]
feature = true
"""
EVENTS = """name = "events"
entity = "events"
[fields]
customer_id = "customer_id"
item_id = "item_id"
timestamp = "timestamp"
[event_type]
constant = "purchase"
"""


def _write_files(folder: Path, seed: int = 0) -> dict[str, Path]:
    """Planted: 'pro' customers buy steel items often and stay; 'basic' ones buy wood items
    rarely and most stop buying in the last 60 days (churn)."""
    rng = np.random.default_rng(seed)
    n_items, n_customers = 30, 240
    material = ["wood" if i % 2 == 0 else "steel" for i in range(n_items)]
    items = pd.DataFrame({"item_id": [f"i{i}" for i in range(n_items)],
                          "title": ["Product"] * n_items, "price": 10.0,
                          "categories": "general", "material": material})
    plan = ["pro" if c % 2 else "basic" for c in range(n_customers)]
    customers = pd.DataFrame({"customer_id": [f"c{c}" for c in range(n_customers)],
                              "plan": plan})
    rows = []
    wood = [i for i in range(n_items) if material[i] == "wood"]
    steel = [i for i in range(n_items) if material[i] == "steel"]
    for c in range(n_customers):
        pro = plan[c] == "pro"
        churns = (not pro) and rng.random() < 0.8
        last_day = 120 if churns else 183
        n_events = int(rng.integers(14, 20)) if pro else int(rng.integers(4, 7))
        for _ in range(n_events):
            item = int(rng.choice(steel if pro else wood))
            day = int(rng.integers(0, last_day))
            rows.append({"customer_id": f"c{c}", "item_id": f"i{item}",
                         "timestamp": (START + pd.Timedelta(days=day)).isoformat()})
    paths = {}
    for name, frame in (("items", items), ("customers", customers),
                        ("events", pd.DataFrame(rows))):
        paths[name] = folder / f"{name}.csv"
        frame.to_csv(paths[name], index=False)
    for name, text in (("items-plain", ITEMS_PLAIN), ("items-material", ITEMS_WITH_MATERIAL),
                       ("customers-plain", CUSTOMERS_PLAIN),
                       ("customers-plan", CUSTOMERS_WITH_PLAN), ("events-map", EVENTS)):
        paths[name] = folder / f"{name}.toml"
        paths[name].write_text(text)
    return paths


def _material_gap(store: Store, tid: int) -> float:
    """Mean cosine of same-material item pairs minus that of cross-material pairs."""
    data = store.load_dataset(tid)
    model = ContentBased().fit(data)
    v = model.item_vectors_
    v = v.toarray() if hasattr(v, "toarray") else np.asarray(v)
    v = v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)
    sim = v @ v.T
    ids = list(data.item_vocab.ids)
    steel = np.array([int(i[1:]) % 2 == 1 for i in ids])
    same = (steel[:, None] == steel[None, :]) & ~np.eye(len(ids), dtype=bool)
    cross = steel[:, None] != steel[None, :]
    return float(sim[same].mean() - sim[cross].mean())


@pytest.mark.slow
def test_custom_fields_flow_into_every_model(tmp_path: Path) -> None:
    paths = _write_files(tmp_path)
    store = Store.open(f"sqlite:///{tmp_path / 'crm.db'}")
    tid = store.tenants.ensure("acme")

    def load(entity: str, mapping: str) -> None:
        run_import(store, tid, entity, paths[entity], load_mapping(paths[mapping]), now=NOW)

    load("items", "items-plain")
    load("customers", "customers-plain")
    load("events", "events-map")
    save_need(store, tid, ChurnNeed(name="churn", horizon_days=60))
    assert abs(_material_gap(store, tid)) < 1e-9  # no field yet: items look alike

    # the organization adds its fields through import mappings alone, then retrains
    load("items", "items-material")
    load("customers", "customers-plan")
    assert {f.name for f in store.fields.list(tid) if f.feature} == {"material", "plan"}
    report = train_tenant(store, tid, tmp_path / "artifacts",
                          TrainConfig(recommend=False, strategies=False))

    # 1. content similarity: same-material items are now closer than cross-material ones
    assert _material_gap(store, tid) > 0.2

    # 2. need prediction: the field is a feature and shows in basic customers' reasons
    assert "model_version" in report.needs["churn"], report.needs
    basic = [f"c{c}" for c in range(0, 40, 2)]
    texts = []
    for cid in basic:
        score = store.need_scores.for_customer(tid, cid).get("churn")
        assert score is not None
        texts += [str(r) for r in score.reasons]
    assert sum("plan" in t for t in texts) >= len(basic) // 2, texts[:5]

    # 3. segment profiles name the field among what sets a segment apart
    profile = store.configs.get(tid, "segmentation", "behaviour")
    described = " ".join(d["text"] + " " + d["feature"]
                         for seg in profile["segments"] for d in seg["differences"])
    assert "plan" in described, described
