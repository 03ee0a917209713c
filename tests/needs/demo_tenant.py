"""Seed a store tenant with a small demo CRM (fields, customers, events) for store tests."""

from __future__ import annotations

from typing import Any

import numpy as np

from tailorcrm.demo.config import DemoConfig
from tailorcrm.demo.generator import generate
from tailorcrm.store import Store


def _clean(row: dict[str, Any]) -> dict[str, Any]:
    return {k: (None if isinstance(v, float) and np.isnan(v) else v) for k, v in row.items()}


def seed_demo(store: Store, tenant: str = "default", n_customers: int = 200) -> int:
    """Create ``tenant`` with the demo's customer fields, customers and events (views and
    clicks left out to keep tests fast); returns the tenant id."""
    tid = store.tenants.ensure(tenant)
    demo = generate(DemoConfig(n_customers=n_customers, n_items=40, seed=3))
    for spec in demo.fields():
        if spec.entity == "customer":
            store.fields.add(tid, spec)
    store.customers.upsert(tid, [_clean(r) for r in demo.customers.to_dict("records")])
    events = demo.events[["customer_id", "item_id", "type", "value", "timestamp"]]
    events = events[~events["type"].isin(["view", "click"])]  # fewer rows, same needs
    store.events.add(tid, [_clean(r) for r in events.to_dict("records")])
    return tid
