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


def planted_churn(n: int = 900, seed: int = 0, *, signal: bool = True, gap: float = 30.0,
                  days: int = 360) -> Dataset:
    """Customers who buy every ~``gap`` days until they stop; with ``signal`` the contract sets
    how soon they stop (month-to-month soon, two-year hardly), without it nothing does.

    ``coin`` is a customer field unrelated to everything (a label need with no signal).
    """
    rng = np.random.default_rng(seed)
    ids = pd.Index([f"c{i:05d}" for i in range(n)], name="customer_id")
    contract = rng.choice(CONTRACTS, n)
    means = {"month-to-month": 60.0, "one-year": 600.0, "two-year": 3000.0}
    mean = np.array([means[c] for c in contract]) if signal else np.full(n, 400.0)
    start = rng.uniform(0, 60, n)
    stop = start + rng.exponential(mean)
    rows = []
    for i, cid in enumerate(ids):
        t = start[i]
        while t < min(stop[i], days):
            rows.append((cid, f"i{rng.integers(20)}", t))
            t += rng.exponential(gap)
    ev = pd.DataFrame(rows, columns=["customer_id", "item_id", "t"])
    events = pd.DataFrame({
        "customer_id": ev["customer_id"], "item_id": ev["item_id"], "type": "purchase",
        "value": 1.0, "ts": START + pd.to_timedelta(ev["t"] * 24, unit="h"),
    }).sort_values("ts", kind="stable").reset_index(drop=True)
    customers = pd.DataFrame({
        "consent_personalization": "unknown", "consent_marketing": "unknown",
        "contract": contract, "coin": np.where(rng.random(n) < 0.3, "Yes", "No"),
        "noise": rng.normal(size=n),
    }, index=ids)
    specs = (
        FieldSpec(entity="customer", name="contract", type=FieldType.ENUM,
                  enum_values=CONTRACTS, feature=True),
        FieldSpec(entity="customer", name="noise", type=FieldType.NUMBER, feature=True),
        FieldSpec(entity="customer", name="coin", type=FieldType.ENUM,
                  enum_values=("No", "Yes")),
    )
    base = Dataset.from_events(events, customers=customers)
    return Dataset(customers=customers, items=base.items, events=base.events,
                   customer_fields=specs)
