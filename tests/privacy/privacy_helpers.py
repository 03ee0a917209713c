"""Helpers of the privacy tests: the demo tenant on a real database and app, log capture,
searches of files and tables for a customer's values."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from tailorcrm.api import create_app
from tailorcrm.demo.config import DemoConfig
from tailorcrm.settings import Settings
from tailorcrm.store import Store

SMALL_DEMO = DemoConfig(seed=7, n_customers=150, n_items=60)

CLIENT_LOGGERS = ("httpx", "httpcore")  # the test's own HTTP client, not the server


class LogCapture(logging.Handler):
    """Every formatted log line the server side writes at INFO and above (the level it runs
    at), with its arguments rendered."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.name.split(".")[0] in CLIENT_LOGGERS:
            return
        text = record.getMessage()
        if record.exc_info:
            text += "\n" + logging.Formatter().formatException(record.exc_info)
        self.lines.append(text)


@dataclass
class Demo:
    """The demo tenant on a real database, its artifacts, an app over it and its keys."""

    url: str
    store: Store
    tid: int
    artifacts: Path
    work: Path
    client: TestClient
    keys: dict[str, str]
    logs: LogCapture

    def h(self, scope: str = "admin") -> dict[str, str]:
        """Headers carrying the key of ``scope``."""
        return {"Authorization": f"Bearer {self.keys[scope]}"}

    def second_worker(self) -> TestClient:
        """Another app (another worker) over the same database and artifacts."""
        other = Store.open(self.url, artifacts_dir=self.artifacts)
        return TestClient(create_app(Settings(database_url=self.url,
                                              artifacts_dir=self.artifacts), other))


def unique_customer(store: Store, tid: int) -> tuple[str, list[str]]:
    """A customer with events whose id and pii values are no substring of any other
    customer's or item's values (so a hit in a file can only be theirs): id and pii values."""
    pii = [f.name for f in store.fields.list(tid, "customer") if f.pii]
    customers = store.customers.list(tid, limit=100_000)
    texts: dict[str, list[str]] = {
        c.customer_id: [c.customer_id, *(str(c.attributes[p]) for p in pii
                                         if c.attributes.get(p))] for c in customers}
    everything: list[tuple[str, str]] = [(cid, v) for cid, vs in texts.items() for v in vs]
    everything += [("", str(v)) for i in store.items.list(tid, limit=100_000)
                   for v in [i.item_id, i.title, i.description, *i.attributes.values()]]
    for cid, values in sorted(texts.items(), reverse=True):
        if len(values) < 1 + len(pii) or not store.events.for_customer(tid, cid, limit=5):
            continue
        if all(v not in other for v in values for owner, other in everything
               if owner != cid):
            return cid, values
    raise AssertionError("no customer with unique id and pii values in the demo")


def hits(blob: bytes, needles: list[str]) -> list[str]:
    """The needles found in ``blob`` (UTF-8 and UTF-16 LE, as databases may store text)."""
    return [n for n in needles if n.encode() in blob or n.encode("utf-16-le") in blob]


def file_hits(root: Path, needles: list[str]) -> dict[str, list[str]]:
    """Needles found in each file under ``root``: raw bytes, and decoded for compressed
    formats (Parquet tables, NumPy archives)."""
    found: dict[str, list[str]] = {}
    for file in sorted(p for p in root.rglob("*") if p.is_file()):
        got = set(hits(file.read_bytes(), needles))
        got |= set(hits(_decoded(file).encode(), needles))
        if got:
            found[str(file.relative_to(root))] = sorted(got)
    return found


def _decoded(file: Path) -> str:
    if file.suffix == ".parquet":
        import pandas as pd

        frame = pd.read_parquet(file)
        return " ".join(map(str, frame.index)) + frame.to_csv()
    if file.suffix == ".npz":
        import numpy as np

        with np.load(file, allow_pickle=False) as npz:
            return " ".join(str(npz[k].tolist()) for k in npz.files
                            if npz[k].dtype.kind in "USO")
    return ""


def api_get_all(client: TestClient, headers: dict[str, str], customer_id: str
                ) -> dict[str, Any]:
    """Status and body of every GET route that names a customer, for ``customer_id``."""
    out: dict[str, Any] = {}
    spec = client.get("/openapi.json").json()
    for path, ops in spec["paths"].items():
        if "{customer_id}" in path and "get" in ops:
            url = path.replace("{customer_id}", customer_id)
            r = client.get(url, headers=headers)
            out[path] = (r.status_code, r.text)
    return out
