"""A small tenant for the training-job tests: two taste groups, churners, a need, a strategy."""

from __future__ import annotations

import datetime as dt
from typing import Any

from tailorcrm.needs.definitions import ChurnNeed, save_need
from tailorcrm.store import Store


def seed_tenant(store: Store, slug: str = "acme", n_customers: int = 60,
                n_items: int = 20) -> int:
    """Tenant ``slug`` with customers ``c0..``, items ``i0..``, a year of purchases (every
    third customer stops at mid-year), a churn need and a popularity strategy ``pop``."""
    tid = store.tenants.ensure(slug)
    half = n_items // 2
    store.items.upsert(tid, [{"item_id": f"i{i}", "title": f"Item {i}",
                              "categories": ["low" if i < half else "high"]}
                             for i in range(n_items)])
    store.customers.upsert(tid, [{"customer_id": f"c{c}"} for c in range(n_customers)])
    start = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    rows: list[dict[str, Any]] = []
    for c in range(n_customers):
        base = 0 if c % 2 == 0 else half
        for m in range(12 if c % 3 else 6):
            for j in range(2):
                ts = start + dt.timedelta(days=30 * m + 7 * j + c % 5)
                item = base + (c * 3 + m * 7 + j) % half
                rows.append({"customer_id": f"c{c}", "item_id": f"i{item}", "type": "purchase",
                             "ts": ts.isoformat()})
    store.events.add(tid, rows)
    save_need(store, tid, ChurnNeed(name="churn", horizon_days=60))
    store.configs.put(tid, "strategy", "pop", {"name": "pop", "models": [{"kind": "popularity"}]})
    return tid


def traces_of(store: Store, tid: int, customer_id: str) -> dict[str, Any]:
    """Everything the store keeps of one customer, by kind (empty when erased)."""
    return {
        "customer": store.customers.find(tid, customer_id),
        "events": store.events.for_customer(tid, customer_id),
        "segments": store.segments.of_customer(tid, customer_id),
        "needs": store.need_scores.for_customer(tid, customer_id),
        "lists": {s: found for s in store.recommendations.strategies(tid)
                  if (found := store.recommendations.get(tid, s, customer_id)) is not None},
    }
