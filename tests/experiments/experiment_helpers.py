"""Helpers of the experiment tests: a trained tenant behind the API, and an experiment body."""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from tailorcrm.api import create_app
from tailorcrm.settings import Settings
from tailorcrm.store import Store

N_CUSTOMERS = 120


@dataclass
class Tenant:
    """A client over a store with one trained tenant and a key per scope."""

    client: TestClient
    store: Store
    tid: int
    keys: dict[str, str]

    def h(self, scope: str = "admin") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[scope]}"}

    def flush(self) -> None:
        """Write the app's buffered exposures now."""
        self.client.app.state.exposures.flush()  # type: ignore[attr-defined]


def rows() -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    """Two taste groups over 20 items; customer c7 denied personalization."""
    items = [{"item_id": f"i{i}", "title": f"Item {i}", "categories": ["low" if i < 10
                                                                        else "high"]}
             for i in range(20)]
    customers: list[dict[str, Any]] = [{"customer_id": f"c{c}"} for c in range(N_CUSTOMERS)]
    customers[7]["consent_personalization"] = "denied"
    events = []
    for c in range(N_CUSTOMERS):
        base = 0 if c % 2 == 0 else 10
        for j in range(4):
            events.append({"customer_id": f"c{c}", "item_id": f"i{base + (c * 3 + j * 7) % 10}",
                           "type": "purchase", "ts": f"2025-01-{1 + j:02d}T10:00:00Z"})
    return customers, items, events


def trained_tenant(url: str, artifacts: Path, slug: str = "acme") -> Tenant:
    """A tenant loaded with :func:`rows`, trained, with strategies ``a``, ``b``, ``homepage``."""
    store = Store.open(url)
    tid = store.tenants.ensure(slug)
    keys = {s: store.keys.create(tid, [s])[1] for s in ("read", "write", "admin")}
    app = create_app(Settings(database_url=url, artifacts_dir=artifacts), store)
    t = Tenant(TestClient(app), store, tid, keys)
    customers, items, events = rows()
    for path, body in (("/v1/items:batch", {"items": items}),
                       ("/v1/customers:batch", {"customers": customers}),
                       ("/v1/events", events)):
        r = t.client.post(path, json=body, headers=t.h("write"))
        assert r.status_code == 200, r.text
    job = t.client.post("/v1/jobs/train", json={"needs": False, "segments": False},
                        headers=t.h("write")).json()
    deadline = time.monotonic() + 300
    while True:
        state = t.client.get(f"/v1/jobs/{job['job_id']}", headers=t.h("read")).json()
        if state["status"] in ("succeeded", "failed"):
            break
        assert time.monotonic() < deadline, "training did not end"
        time.sleep(0.1)
    assert state["status"] == "succeeded", state
    for name, extra in (("a", {}), ("b", {"diversity": {"max_per_group": 1}}),
                        ("homepage", {})):
        r = t.client.put(f"/v1/strategies/{name}", json={"name": name, **extra},
                         headers=t.h("admin"))
        assert r.status_code == 200, r.text
    return t


def experiment_body(name: str = "hp-test", **extra: Any) -> dict[str, Any]:
    """A running experiment on ``homepage``: control (strategy ``a``) against ``b``."""
    start = (dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)).isoformat()
    return {"name": name, "surface": "recommendations", "placement": "homepage",
            "start": start, "window_hours": 1, "guard_metrics": ["revenue", "click"],
            "variants": [{"name": "control", "share": 0.5, "strategy": "a", "control": True},
                         {"name": "diverse", "share": 0.5, "strategy": "b"}], **extra}
