"""Jobs across workers: two apps (two "workers", each with its own store and job runner) over
one database, SQLite file and PostgreSQL. A job started in one is followed, refused a twin and
cancelled through the other; a job whose worker stops beating (or dies) is failed and frees
its tenant."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from api_helpers import Api, make_api, seed

from tailorcrm.serving.jobs import JobRunner
from tailorcrm.store import Store
from tailorcrm.store.jobs import WORKER_LOST

OFF = {"recommend": False, "precompute": False, "needs": False, "segments": False,
       "strategies": False}
GATE_STEP = "recommender: precompute"  # the model is fitted and registered by then


class Gate:
    """A progress observer holding a job at ``step`` until released."""

    def __init__(self, step: str) -> None:
        self.step = step
        self.reached, self.release = threading.Event(), threading.Event()

    def __call__(self, step: str, done: int, total: int | None) -> None:
        if step == self.step and not self.reached.is_set():
            self.reached.set()
            if not self.release.wait(120):
                raise RuntimeError("the test never released the gate")


@pytest.fixture()
def workers(database_url: str, tmp_path: Path) -> Iterator[tuple[Api, Api]]:
    """Two apps over one database, one tenant; each has its own store and keys."""
    one = make_api(database_url, tmp_path / "artifacts")
    two = make_api(database_url, tmp_path / "artifacts")
    yield one, two
    for api in (one, two):
        runner: JobRunner = api.client.app.state.jobs  # type: ignore[attr-defined]
        runner.close()
        api.store.close()


def _runner(api: Api, owner: str, **options: Any) -> JobRunner:
    """Give ``api`` a job runner named ``owner``."""
    app: Any = api.client.app
    runner = JobRunner(api.store, app.state.cache, app.state.settings.artifacts_dir,
                       owner=owner, **options)
    app.state.jobs = runner
    return runner


def _get(api: Api, job_id: str) -> dict[str, Any]:
    r = api.client.get(f"/v1/jobs/{job_id}", headers=api.h("read"))
    assert r.status_code == 200, r.text
    return dict(r.json())


def _until(api: Api, job_id: str, done: Any, timeout: float = 120.0) -> dict[str, Any]:
    """Poll ``api`` until ``done(state)``; the last state."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = _get(api, job_id)
        if done(state):
            return state
        time.sleep(0.05)
    raise AssertionError(f"job {job_id}: condition not met in {timeout}s: {state}")


def _ended(state: dict[str, Any]) -> bool:
    return state["status"] in ("succeeded", "failed", "cancelled")


def _train(api: Api, body: dict[str, Any] | None = None) -> dict[str, Any]:
    r = api.client.post("/v1/jobs/train", json=body or {}, headers=api.h("write"))
    assert r.status_code == 202, r.text
    return dict(r.json())


def _idle(runner: JobRunner, timeout: float = 60.0) -> None:
    """Wait until the runner's job threads are done."""
    deadline = time.monotonic() + timeout
    while runner._live and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not runner._live


def test_a_job_is_followed_refused_and_cancelled_through_another_worker(
        workers: tuple[Api, Api]) -> None:
    one, two = workers
    seed(one)
    gate = Gate(GATE_STEP)
    first = _runner(one, "worker-1", observe=gate, progress_every=0.0, heartbeat_every=0.2)
    _runner(two, "worker-2", heartbeat_every=0.2)
    job = _train(one)
    assert gate.reached.wait(120)
    # the other worker sees it running at the step it is held at (flushed by the heartbeat)
    seen = _until(two, job["job_id"], lambda s: s["step"] == GATE_STEP)
    assert seen["status"] == "running" and seen["total"] == 40, seen
    assert set(seen) == set(job)  # the same JobState shape from either worker
    r = two.client.post("/v1/jobs/train", json=OFF, headers=two.h("write"))
    assert r.status_code == 409, r.text
    assert r.json()["error"]["details"]["job_id"] == job["job_id"]
    r = two.client.delete(f"/v1/jobs/{job['job_id']}", headers=two.h("write"))
    assert r.status_code == 202 and r.json()["cancel_requested"] is True, r.text
    gate.release.set()
    state = _until(two, job["job_id"], _ended)
    assert state["status"] == "cancelled" and state["error"]["code"] == "cancelled", state
    assert _get(one, job["job_id"]) == state
    assert one.store.models.active(one.tid, "recommender") is None  # nothing was activated
    _idle(first)
    again = _train(two, OFF)  # the tenant is free, in either worker
    assert _until(one, again["job_id"], _ended)["status"] == "succeeded"
    r = two.client.delete(f"/v1/jobs/{again['job_id']}", headers=two.h("write"))
    assert r.status_code == 409 and r.json()["error"]["details"]["status"] == "succeeded"


def test_a_finished_job_reads_the_same_in_both_workers(workers: tuple[Api, Api]) -> None:
    one, two = workers
    seed(one)
    job = _train(two, {**OFF, "segments": True})
    state = _until(one, job["job_id"], _ended)
    assert state["status"] == "succeeded" and state["result"]["segmentations"], state
    assert _get(two, job["job_id"]) == state
    other = one.store.tenants.ensure("bravo")
    _, key = one.store.keys.create(other, ["admin"])
    r = two.client.get(f"/v1/jobs/{job['job_id']}", headers={"Authorization": f"Bearer {key}"})
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"


def test_a_job_whose_worker_stops_beating_is_failed_and_frees_the_tenant(
        workers: tuple[Api, Api]) -> None:
    one, two = workers
    seed(one)
    gate = Gate(GATE_STEP)
    stuck = _runner(one, "worker-stuck", observe=gate, progress_every=0.0,
                    heartbeat_every=3600.0)  # never beats while held at the gate
    _runner(two, "worker-2", stale_after=0.5, heartbeat_every=0.2)
    job = _train(one)
    assert gate.reached.wait(120)
    time.sleep(0.6)  # past the stale bound of worker 2
    state = _get(two, job["job_id"])
    assert state["status"] == "failed" and state["finished_at"] is not None, state
    assert state["error"]["code"] == WORKER_LOST and "worker-stuck" in state["error"]["message"]
    fresh = _train(two, OFF)  # the tenant may train again
    assert _until(two, fresh["job_id"], _ended)["status"] == "succeeded"
    gate.release.set()  # the stuck worker wakes up: its job is no longer its to end
    _idle(stuck)
    assert _get(one, job["job_id"]) == state
    assert one.store.models.active(one.tid, "recommender") is None


def test_the_job_of_a_worker_process_that_died_is_reaped(workers: tuple[Api, Api],
                                                          database_url: str) -> None:
    one, two = workers
    script = ("import os, sys\n"
              "from tailorcrm.store import Store\n"
              "from tailorcrm.serving.jobs import worker_id\n"
              "store = Store.open(sys.argv[1])\n"
              "tid = store.tenants.id_of('acme')\n"
              "job = store.jobs.create(tid, 'train', worker_id())\n"
              "store.jobs.start(job.job_id, worker_id())\n"
              "print(job.job_id, worker_id(), flush=True)\n"
              "os._exit(0)\n")  # dies with its job running, as a killed worker does
    out = subprocess.run([sys.executable, "-c", script, database_url], capture_output=True,
                         text=True, timeout=120, check=True).stdout.split()
    job_id, owner = out[0], out[1]
    assert _get(one, job_id)["status"] == "running"
    r = one.client.post("/v1/jobs/train", json=OFF, headers=one.h("write"))
    assert r.status_code == 409 and r.json()["error"]["details"]["job_id"] == job_id
    _runner(two, "worker-2", stale_after=0.3)
    time.sleep(0.4)
    state = _get(two, job_id)
    assert state["status"] == "failed" and owner in state["error"]["message"], state
    assert _until(one, _train(one, OFF)["job_id"], _ended)["status"] == "succeeded"


def test_a_worker_shutting_down_fails_its_jobs_at_once(workers: tuple[Api, Api]) -> None:
    one, two = workers
    seed(one)
    gate = Gate(GATE_STEP)
    leaving = _runner(one, "worker-leaving", observe=gate)
    job = _train(one)
    assert gate.reached.wait(120)
    leaving.close()
    state = _get(two, job["job_id"])
    assert state["status"] == "failed" and state["error"]["code"] == WORKER_LOST, state
    gate.release.set()
    _idle(leaving)
    assert _get(two, job["job_id"]) == state


def test_progress_is_written_at_most_as_often_as_configured(database_url: str,
                                                            tmp_path: Path) -> None:
    """A job reporting many times in a burst writes its row a few times, not per report."""
    with Store.open(database_url) as store:
        tid = store.tenants.ensure("acme")
        runner = JobRunner(store, None, tmp_path, owner="w", progress_every=10.0,  # type: ignore[arg-type]
                           heartbeat_every=3600.0)
        record = store.jobs.create(tid, "train", "w")
        assert store.jobs.start(record.job_id, "w")
        from tailorcrm.serving.jobs import _Job, _state

        job = _Job(tid, _state(record))
        job.state.status = "running"
        for i in range(1000):
            job.state.step, job.state.done, job.state.total = "burst", i, 1000
            runner._report(job, "burst", i, 1000)
        stored = store.jobs.get(tid, record.job_id)
        assert (stored.step, stored.done) == ("burst", 0)  # only the first report was written
        assert job.dirty
        runner._live[record.job_id] = job
        runner.beat()  # the heartbeat flushes what was held back
        stored = store.jobs.get(tid, record.job_id)
        assert (stored.step, stored.done) == ("burst", 999) and not job.dirty
