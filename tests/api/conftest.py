"""Fixtures of the API tests: a fresh app over a real database (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from api_helpers import Api, make_api


@pytest.fixture()
def api(database_url: str, tmp_path: Path) -> Iterator[Api]:
    """A fresh API over a real SQLite file, and over PostgreSQL when one is available."""
    # the route walks make hundreds of deliberately failed authentications from one address
    made = make_api(database_url, tmp_path / "artifacts", max_request_bytes=200_000,
                    auth_failures_per_minute=100_000)
    yield made
    made.store.close()
