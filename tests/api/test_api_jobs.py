"""Training jobs through the API: one per tenant at a time, switched-off steps, cancellation,
a failed run that leaves the recommender as it was, erasure while a job runs (both backends)."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from api_helpers import Api, seed

from tailorcrm.serving.jobs import JobRunner

OFF = {"recommend": False, "precompute": False, "needs": False, "segments": False,
       "strategies": False}


class Gate:
    """A progress observer holding a job at ``step`` until released (then raising ``fail``)."""

    def __init__(self, step: str, fail: Exception | None = None) -> None:
        self.step, self.fail = step, fail
        self.reached, self.release = threading.Event(), threading.Event()

    def __call__(self, step: str, done: int, total: int | None) -> None:
        if step == self.step and not self.reached.is_set():
            self.reached.set()
            if not self.release.wait(120):
                raise RuntimeError("the test never released the gate")
            if self.fail is not None:
                raise self.fail


def _gated(api: Api, gate: Gate) -> None:
    """Serve jobs through a runner observed by ``gate``."""
    app: Any = api.client.app
    app.state.jobs = JobRunner(api.store, app.state.cache, app.state.settings.artifacts_dir,
                               observe=gate)


def _wait(api: Api, job_id: str, timeout: float = 240.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = api.client.get(f"/v1/jobs/{job_id}", headers=api.h("read")).json()
        if state["status"] in ("succeeded", "failed", "cancelled"):
            return state
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} did not end in {timeout}s")


def _train(api: Api, body: dict[str, Any] | None = None) -> dict[str, Any]:
    r = api.client.post("/v1/jobs/train", json=body or {}, headers=api.h("write"))
    assert r.status_code == 202, r.text
    return r.json()


def _active(api: Api) -> str | None:
    record = api.store.models.active(api.tid, "recommender")
    return None if record is None else record.version


def test_one_training_job_per_tenant(api: Api) -> None:
    seed(api)
    gate = Gate("recommender: precompute")
    _gated(api, gate)
    first = _train(api)
    assert gate.reached.wait(120)
    for _ in range(3):
        r = api.client.post("/v1/jobs/train", json=OFF, headers=api.h("write"))
        assert r.status_code == 409, r.text
        error = r.json()["error"]
        assert error["code"] == "conflict" and error["details"]["job_id"] == first["job_id"]
    gate.release.set()
    assert _wait(api, first["job_id"])["status"] == "succeeded"
    assert _wait(api, _train(api, OFF)["job_id"])["status"] == "succeeded"  # free again


def test_switched_off_steps_run_nothing(api: Api) -> None:
    seed(api)
    api.client.put("/v1/strategies/pop", json={"models": [{"kind": "popularity"}]},
                   headers=api.h())
    state = _wait(api, _train(api, OFF)["job_id"])
    assert state["status"] == "succeeded", state
    assert state["result"]["customers"] == 0 and state["result"]["strategies"] == {}
    assert api.store.recommendations.strategies(api.tid) == {}
    assert api.store.models.list(api.tid) == [] and api.store.segments.list(api.tid) == {}
    only = _wait(api, _train(api, {**OFF, "strategies": True})["job_id"])
    assert only["result"]["strategies"] == {"pop": 40}
    assert set(api.store.recommendations.strategies(api.tid)) == {"pop"}


def test_cancel_a_running_job(api: Api) -> None:
    seed(api)
    gate = Gate("recommender: precompute")  # the model is fitted and registered by then
    _gated(api, gate)
    job = _train(api)
    assert gate.reached.wait(120)
    r = api.client.delete(f"/v1/jobs/{job['job_id']}", headers=api.h("write"))
    assert r.status_code == 202 and r.json()["cancel_requested"] is True, r.text
    gate.release.set()
    state = _wait(api, job["job_id"])
    assert state["status"] == "cancelled" and state["error"]["code"] == "cancelled", state
    assert _active(api) is None and api.store.recommendations.strategies(api.tid) == {}
    assert api.store.segments.list(api.tid) == {}
    again = api.client.delete(f"/v1/jobs/{job['job_id']}", headers=api.h("write"))
    assert again.status_code == 409 and again.json()["error"]["details"]["status"] == "cancelled"
    assert api.client.delete("/v1/jobs/nope", headers=api.h("write")).status_code == 404
    assert api.client.delete(f"/v1/jobs/{job['job_id']}",
                             headers=api.h("read")).status_code == 403
    other = api.store.tenants.ensure("bravo")
    _, key = api.store.keys.create(other, ["admin"])
    r = api.client.delete(f"/v1/jobs/{job['job_id']}", headers={"Authorization": f"Bearer {key}"})
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"


def test_a_run_failing_after_fit_leaves_the_recommender_as_it_was(api: Api) -> None:
    seed(api)
    first = _wait(api, _train(api, {"needs": False})["job_id"])
    v1 = first["result"]["recommender_version"]
    gate = Gate("segments", fail=RuntimeError("segment store unavailable"))
    _gated(api, gate)
    job = _train(api, {"needs": False})
    gate.release.set()
    state = _wait(api, job["job_id"])
    assert state["status"] == "failed" and "unavailable" in state["error"]["message"], state
    assert _active(api) == v1
    body = api.client.get("/v1/customers/c4/recommendations?n=3", headers=api.h("read")).json()
    assert body["model_version"] == v1 and body["source"] == "precomputed"


def test_customer_erased_while_a_job_runs_is_not_served_again(api: Api) -> None:
    seed(api)
    assert _wait(api, _train(api, {"needs": False})["job_id"])["status"] == "succeeded"
    rec = api.client.get("/v1/customers/c3/recommendations", headers=api.h("read")).json()
    gate = Gate("recommender: precompute")  # the job has read c3 by then
    _gated(api, gate)
    job = _train(api, {"needs": False})
    assert gate.reached.wait(120)
    assert api.client.delete("/v1/customers/c3", headers=api.h("write")).status_code == 204
    gate.release.set()
    state = _wait(api, job["job_id"])
    assert state["status"] == "succeeded" and state["result"]["recommendation_lists"] == 39
    assert _active(api) == state["result"]["recommender_version"]
    read, write = api.h("read"), api.h("write")
    for path in ("/v1/customers/c3/recommendations", "/v1/customers/c3/needs",
                 "/v1/customers/c3/next-best-actions",
                 "/v1/customers/c3/recommendations?reasons=false"):
        r = api.client.get(path, headers=read)
        assert r.status_code == 404 and r.json()["error"]["code"] == "not_found", (path, r.text)
    r = api.client.post(f"/v1/recommendations/{rec['recommendation_id']}/feedback",
                        json={"item_id": rec["items"][0]["item_id"], "outcome": "clicked"},
                        headers=write)
    assert r.status_code == 404, r.text
    assert api.store.segments.of_customer(api.tid, "c3") == {}
    assert api.store.recommendations.get(api.tid, "default", "c3") is None
    assert api.store.events.for_customer(api.tid, "c3") == []
    assert api.client.get("/v1/customers/c4/recommendations",
                          headers=read).status_code == 200


@pytest.mark.parametrize("method,path,statuses", [
    ("get", "/v1/jobs/{job_id}", {"404"}), ("delete", "/v1/jobs/{job_id}", {"404", "409"}),
    ("post", "/v1/jobs/train", {"409"}),
    ("post", "/v1/recommendations/{recommendation_id}/feedback", {"404"})])
def test_routes_declare_their_errors(api: Api, method: str, path: str,
                                     statuses: set[str]) -> None:
    op = api.client.get("/openapi.json").json()["paths"][path][method]
    assert statuses <= set(op["responses"])
    for status in statuses:
        schema = op["responses"][status]["content"]["application/json"]["schema"]
        assert schema == {"$ref": "#/components/schemas/ErrorPublic"}
