"""A small planted data set for need-prediction tests: known churn drivers and signs."""

from __future__ import annotations

import numpy as np
import pandas as pd

from tailorcrm.data.dataset import Dataset
from tailorcrm.schema.fields import FieldSpec, FieldType

START = pd.Timestamp("2024-01-01", tz="UTC")
CONTRACTS = ("month-to-month", "one-year", "two-year")
# Planted log-odds effects on the label "churn".
EFFECTS = {"month-to-month": 1.5, "two-year": -1.5, "budget": -0.8, "newsletter": 0.0}


def planted(n: int = 1500, seed: int = 0) -> Dataset:
    """Customers with typed fields of every kind, a planted ``churn`` label and events."""
    rng = np.random.default_rng(seed)
    ids = pd.Index([f"c{i:05d}" for i in range(n)], name="customer_id")
    contract = rng.choice(CONTRACTS, n)
    budget = rng.lognormal(3.0, 0.6, n)
    budget_z = (np.log(budget) - 3.0) / 0.6
    newsletter = rng.random(n) < 0.5
    logit = (-0.8 + EFFECTS["month-to-month"] * (contract == "month-to-month")
             + EFFECTS["two-year"] * (contract == "two-year") + EFFECTS["budget"] * budget_z)
    churn = rng.random(n) < 1.0 / (1.0 + np.exp(-logit))
    customers = pd.DataFrame({
        "consent_personalization": "unknown", "consent_marketing": "unknown",
        "contract": contract, "budget": budget, "newsletter": newsletter,
        "interests": [list(rng.choice(["golf", "tea", "wine"], rng.integers(0, 3),
                                      replace=False)) for _ in range(n)],
        "notes": rng.choice(["likes fast delivery", "asked about invoices", ""], n),
        "signup_date": (START - pd.to_timedelta(rng.integers(10, 900, n), unit="D")).date,
        "churn": np.where(churn, "Yes", "No"),
    }, index=ids)
    specs = (
        FieldSpec(entity="customer", name="contract", type=FieldType.ENUM,
                  enum_values=CONTRACTS, feature=True),
        FieldSpec(entity="customer", name="budget", type=FieldType.NUMBER, feature=True),
        FieldSpec(entity="customer", name="newsletter", type=FieldType.BOOLEAN, feature=True),
        FieldSpec(entity="customer", name="interests", type=FieldType.LIST, feature=True),
        FieldSpec(entity="customer", name="notes", type=FieldType.TEXT, feature=True),
        FieldSpec(entity="customer", name="signup_date", type=FieldType.DATE, feature=True),
        FieldSpec(entity="customer", name="churn", type=FieldType.ENUM,
                  enum_values=("No", "Yes")),
    )
    k = 6 * n
    events = pd.DataFrame({
        "customer_id": rng.choice(ids, k), "item_id": rng.choice([f"i{j}" for j in range(20)], k),
        "type": rng.choice(["purchase", "view", "service_ticket"], k, p=[0.4, 0.5, 0.1]),
        "value": 1.0, "ts": START + pd.to_timedelta(rng.integers(0, 365 * 24, k), unit="h"),
    }).sort_values("ts", kind="stable")
    base = Dataset.from_events(events, customers=customers)
    items = base.items.copy()
    items["categories"] = [["garden"] if int(i[1:]) % 2 else ["kitchen"] for i in items.index]
    items["price"] = 10.0
    return Dataset(customers=customers, items=items, events=base.events,
                   customer_fields=specs)
