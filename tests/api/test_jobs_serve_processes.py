"""Two real ``tailorcrm serve`` processes over one SQLite file: a job taken by one is read,
refused a twin and cancelled through the other; a key revoked through one is refused by it at
once and by the other within ``AUTH_TTL_S``."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
from api_helpers import planted_rows, serve_process

from tailorcrm.api.deps import AUTH_TTL_S
from tailorcrm.store import Store

OFF = {"recommend": False, "precompute": False, "needs": False, "segments": False,
       "strategies": False}


def _h(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def _ended(base: str, key: str, job_id: str, timeout: float = 120.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = httpx.get(f"{base}/v1/jobs/{job_id}", headers=_h(key), timeout=10).json()
        if state["status"] in ("succeeded", "failed", "cancelled"):
            return dict(state)
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} did not end in {timeout}s")


def test_two_serve_processes_share_jobs_and_revocations(sqlite_url: str, tmp_path: Path
                                                        ) -> None:
    artifacts = tmp_path / "artifacts"
    with serve_process(sqlite_url, artifacts) as (a, ka), \
            serve_process(sqlite_url, artifacts) as (b, kb):
        customers, items, events = planted_rows()
        for path, body in (("/v1/items:batch", {"items": items}),
                           ("/v1/customers:batch", {"customers": customers}),
                           ("/v1/events", events)):
            assert httpx.post(f"{a}{path}", json=body, headers=_h(ka),
                              timeout=30).status_code == 200
        job = httpx.post(f"{a}/v1/jobs/train", json={**OFF, "segments": True},
                         headers=_h(ka), timeout=10).json()
        state = _ended(b, kb, job["job_id"])  # read through the worker that did not run it
        assert state["status"] == "succeeded" and state["result"]["segmentations"], state
        assert httpx.get(f"{a}/v1/jobs/{job['job_id']}", headers=_h(ka),
                         timeout=10).json() == state

        with Store.open(sqlite_url) as store:  # a job some third worker holds, beating
            tid = store.tenants.id_of("live")
            held = store.jobs.create(tid, "train", "third-worker:1")
            key_id, secret = store.keys.create(tid, ["read"], "to revoke")
        for base, key in ((a, ka), (b, kb)):
            r = httpx.post(f"{base}/v1/jobs/train", json=OFF, headers=_h(key), timeout=10)
            assert r.status_code == 409 and r.json()["error"]["details"]["job_id"] == \
                held.job_id, r.text
        r = httpx.delete(f"{b}/v1/jobs/{held.job_id}", headers=_h(kb), timeout=10)
        assert r.status_code == 202 and r.json()["status"] == "cancelled", r.text
        again = httpx.post(f"{a}/v1/jobs/train", json=OFF, headers=_h(ka), timeout=10)
        assert again.status_code == 202, again.text
        assert _ended(b, kb, again.json()["job_id"])["status"] == "succeeded"

        for base in (a, b):  # the key is verified, and cached, in both processes
            assert httpx.get(f"{base}/v1/segments", headers=_h(secret),
                             timeout=10).status_code == 200
        assert httpx.delete(f"{a}/v1/keys/{key_id}", headers=_h(ka),
                            timeout=10).status_code == 204
        assert httpx.get(f"{a}/v1/segments", headers=_h(secret), timeout=10).status_code == 401
        time.sleep(AUTH_TTL_S)
        assert httpx.get(f"{b}/v1/segments", headers=_h(secret), timeout=10).status_code == 401
