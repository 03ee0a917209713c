"""A small hand-made catalog and purchase history shared by the customize tests."""

from __future__ import annotations

import numpy as np
import pandas as pd

from tailorcrm.data.dataset import Dataset

CATEGORIES = ["A"] * 6 + ["B"] * 3 + ["C"] * 3


def planted_dataset(seed: int = 0, n_customers: int = 40) -> Dataset:
    """12 items in 3 categories (i5 unavailable); customers buy 5 items each, planted tastes.

    Even customers prefer category A, odd ones B and C; ``c0`` also rejected ``i1``.
    """
    rng = np.random.default_rng(seed)
    items = pd.DataFrame({
        "title": [f"item {i}" for i in range(12)],
        "categories": [[c] for c in CATEGORIES],
        "price": [10.0 * (i + 1) for i in range(12)],
        "available": [i != 5 for i in range(12)],
        "brand": ["acme" if i % 2 else "zen" for i in range(12)],
    }, index=pd.Index([f"i{i}" for i in range(12)], name="item_id"))
    start = pd.Timestamp("2024-01-01", tz="UTC")
    rows = []
    for c in range(n_customers):
        pool = np.arange(6) if c % 2 == 0 else np.arange(6, 12)
        for i in rng.choice(pool, size=4, replace=False):
            rows.append({"customer_id": f"c{c}", "item_id": f"i{i}", "type": "purchase",
                         "ts": start + pd.Timedelta(days=int(rng.integers(0, 90)))})
    rows.append({"customer_id": "c0", "item_id": "i1", "type": "reject",
                 "ts": start + pd.Timedelta(days=95)})
    customers = pd.DataFrame({
        "consent_personalization": "granted",
        "consent_marketing": ["denied" if c == 3 else "granted" for c in range(n_customers)],
        "budget": [60.0 if c % 4 == 0 else 1000.0 for c in range(n_customers)],
        "contract": ["month-to-month" if c % 3 == 0 else "annual" for c in range(n_customers)],
    }, index=pd.Index([f"c{c}" for c in range(n_customers)], name="customer_id"))
    return Dataset.from_events(pd.DataFrame(rows), customers=customers, items=items)
