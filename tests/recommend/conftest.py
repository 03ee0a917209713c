"""Shared fixtures of the recommendation tests: a small demo CRM with planted tastes."""

from __future__ import annotations

import numpy as np
import pytest

from tailorcrm.data.dataset import Dataset
from tailorcrm.demo.config import DemoConfig
from tailorcrm.demo.generator import DemoData, generate


@pytest.fixture(scope="session")
def demo() -> DemoData:
    """400 customers, 100 items, with cold-start customers, new and unavailable items."""
    return generate(DemoConfig(n_customers=400, n_items=100, seed=3))


@pytest.fixture(scope="session")
def demo_data(demo: DemoData) -> Dataset:
    return demo.to_dataset()


@pytest.fixture(scope="session")
def held_out_customers(demo: DemoData, demo_data: Dataset) -> list[str]:
    """60 customers with history whose events are removed from training (cold start)."""
    rng = np.random.default_rng(0)
    cold = set(demo.truth.cold_start_customers)
    candidates = [c for c in demo_data.customer_vocab.ids if c not in cold]
    return sorted(str(c) for c in rng.choice(candidates, 60, replace=False))
