"""Fixtures of the privacy tests: the demo tenant imported and trained on a real database,
served by a real app (SQLite and PostgreSQL)."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "api"))

from fastapi.testclient import TestClient
from privacy_helpers import SMALL_DEMO, Demo, LogCapture

from tailorcrm.api import create_app
from tailorcrm.demo.run import run_demo
from tailorcrm.settings import Settings
from tailorcrm.store import Store


@pytest.fixture()
def logs() -> Iterator[LogCapture]:
    """Every log line written at INFO and above while the test runs."""
    handler = LogCapture()
    root = logging.getLogger()
    old = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    yield handler
    root.removeHandler(handler)
    root.setLevel(old)


@pytest.fixture()
def demo(database_url: str, tmp_path: Path, logs: LogCapture) -> Iterator[Demo]:
    """The small demo imported and trained (recommender, needs, segments, strategies)."""
    artifacts = tmp_path / "artifacts"
    store = Store.open(database_url, artifacts_dir=artifacts)
    result = run_demo(store, "demo", tmp_path / "work", artifacts, SMALL_DEMO)
    tid = result.tenant_id
    keys = {s: store.keys.create(tid, [s])[1] for s in ("read", "write", "admin")}
    app = create_app(Settings(database_url=database_url, artifacts_dir=artifacts), store)
    made = Demo(database_url, store, tid, artifacts, tmp_path / "work", TestClient(app), keys,
                logs)
    yield made
    made.store.close()
