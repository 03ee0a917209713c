"""Fixtures of the demo tests: the default-size demo data and a small one, generated once."""

from __future__ import annotations

import pytest

from tailorcrm.demo.config import DemoConfig
from tailorcrm.demo.generator import DemoData, generate


@pytest.fixture(scope="session")
def demo() -> DemoData:
    """The default demo (2,000 customers, 300 items, seed 42)."""
    return generate(DemoConfig())


@pytest.fixture(scope="session")
def small_demo() -> DemoData:
    """A small demo for shape and round-trip checks."""
    return generate(DemoConfig(seed=7, n_customers=150, n_items=60))
