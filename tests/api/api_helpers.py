"""Helpers of the API tests: an app over a real SQLite file, keys of every scope, planted data."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from fastapi.testclient import TestClient

from tailorcrm.api import create_app
from tailorcrm.settings import Settings
from tailorcrm.store import Store


@dataclass
class Api:
    """A client over a fresh store with one tenant and a key per scope."""

    client: TestClient
    store: Store
    tid: int
    keys: dict[str, str]

    def h(self, scope: str = "admin") -> dict[str, str]:
        """Headers carrying the key of ``scope``."""
        return {"Authorization": f"Bearer {self.keys[scope]}"}

    def wait_job(self, job_id: str, timeout: float = 240.0) -> dict[str, Any]:
        """Poll a job until it ends; returns its final state."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            state = self.client.get(f"/v1/jobs/{job_id}", headers=self.h("read")).json()
            if state["status"] in ("succeeded", "failed"):
                return state
            time.sleep(0.1)
        raise AssertionError(f"job {job_id} did not end in {timeout}s")


def make_api(url: str, artifacts: Path, slug: str = "acme", **settings: Any) -> Api:
    """An app over ``url`` with tenant ``slug`` and keys read/write/admin."""
    store = Store.open(url)
    tid = store.tenants.ensure(slug)
    keys = {s: store.keys.create(tid, [s])[1] for s in ("read", "write", "admin")}
    app = create_app(Settings(database_url=url, artifacts_dir=artifacts, **settings), store)
    return Api(TestClient(app), store, tid, keys)



def planted_rows(n_customers: int = 40, n_items: int = 20) -> tuple[list[dict[str, Any]],
                                                                     list[dict[str, Any]],
                                                                     list[dict[str, Any]]]:
    """Two taste groups: even customers buy items 0..9, odd customers items 10..19."""
    half = n_items // 2
    items = [{"item_id": f"i{i}", "title": f"Item {i}", "categories": ["low" if i < half
                                                                        else "high"]}
             for i in range(n_items)]
    customers = [{"customer_id": f"c{c}"} for c in range(n_customers)]
    events = []
    for c in range(n_customers):
        base = 0 if c % 2 == 0 else half
        for j in range(5):
            item = base + (c * 3 + j * 7) % half
            events.append({"customer_id": f"c{c}", "item_id": f"i{item}", "type": "purchase",
                           "ts": f"2025-01-{1 + j:02d}T10:00:00Z"})
    return customers, items, events


def seed(api: Api) -> None:
    """Load the planted data through the API."""
    customers, items, events = planted_rows()
    assert api.client.post("/v1/items:batch", json={"items": items},
                           headers=api.h("write")).status_code == 200
    assert api.client.post("/v1/customers:batch", json={"customers": customers},
                           headers=api.h("write")).status_code == 200
    assert api.client.post("/v1/events", json=events, headers=api.h("write")).json()[
        "inserted"] == len(events)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def serve_process(sqlite_url: str, artifacts: Path) -> Iterator[tuple[str, str]]:
    """``(base_url, admin key)`` of tenant "live" served by ``tailorcrm serve``; stopped after."""
    with Store.open(sqlite_url) as store:
        tid = store.tenants.ensure("live")
        _, key = store.keys.create(tid, ["admin"])
    port = _free_port()
    env = {**os.environ, "TAILORCRM_ARTIFACTS_DIR": str(artifacts)}
    proc = subprocess.Popen(
        [sys.executable, "-c", "from tailorcrm.cli.main import app; app()", "serve",
         "--db", sqlite_url, "--port", str(port), "--log-level", "warning"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                out = proc.stdout.read().decode() if proc.stdout else ""
                raise AssertionError(f"server did not start:\n{out}")
            time.sleep(0.2)
        yield base, key
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
