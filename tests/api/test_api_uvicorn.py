"""The main paths against a real ``tailorcrm serve`` process (uvicorn) on a loopback port."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from api_helpers import planted_rows, serve_process


@pytest.fixture()
def server(sqlite_url: str, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """``(base_url, admin key)`` of a served tenant; the process is stopped afterwards."""
    with serve_process(sqlite_url, tmp_path / "artifacts") as served:
        yield served


def test_upsert_events_train_recommend_over_http(server: tuple[str, str]) -> None:
    base, key = server
    customers, items, events = planted_rows()
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"},
                      timeout=30) as c:
        assert c.post("/v1/items:batch", json={"items": items}).status_code == 200
        assert c.put("/v1/customers/c0", json={"consent_personalization": "granted"}
                     ).status_code == 200
        assert c.post("/v1/customers:batch", json={"customers": customers[1:]}).json()[
            "inserted"] == len(customers) - 1
        r = c.post("/v1/events", json=events)
        assert r.json() == {"inserted": len(events), "duplicates": 0, "customers_created": 0,
                            "items_created": 0}
        assert c.post("/v1/events", json=events[:3]).json()["duplicates"] == 3
        job = c.post("/v1/jobs/train", json={"needs": False, "segments": False}).json()
        deadline = time.monotonic() + 240
        while (state := c.get(f"/v1/jobs/{job['job_id']}").json())["status"] not in (
                "succeeded", "failed"):
            assert time.monotonic() < deadline
            time.sleep(0.25)
        assert state["status"] == "succeeded", state
        body = c.get("/v1/customers/c0/recommendations", params={"n": 5}).json()
        assert body["source"] == "precomputed" and body["model_version"]
        assert len({i["item_id"] for i in body["items"]} & {f"i{i}" for i in range(10)}) >= 4
        assert httpx.get(f"{base}/v1/customers/c0/recommendations").status_code == 401
        metrics = httpx.get(f"{base}/metrics").text
        assert 'tailorcrm_recommendations_total{source="precomputed"} 1.0' in metrics
