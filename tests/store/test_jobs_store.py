"""The job table: one active job per tenant across stores (processes), tenant-scoped reads,
progress and cancel flags, ending, reaping dead workers' jobs, pruning (both backends)."""

from __future__ import annotations

import threading
import time

import pytest

from tailorcrm.errors import ConflictError, NotFoundError
from tailorcrm.store import Store
from tailorcrm.store.jobs import KEEP_ENDED, WORKER_LOST


def test_one_active_job_per_tenant_across_two_stores(database_url: str) -> None:
    with Store.open(database_url) as one, Store.open(database_url) as two:
        tid = one.tenants.ensure("acme")
        other = one.tenants.ensure("bravo")
        first = one.jobs.create(tid, "train", "w1")
        assert first.status == "queued" and first.owner == "w1" and first.active
        with pytest.raises(ConflictError) as caught:
            two.jobs.create(tid, "train", "w2")
        assert caught.value.details == {"job_id": first.job_id, "status": "queued"}
        assert two.jobs.create(other, "train", "w2").tid == other  # other tenants are free
        assert two.jobs.create(tid, "export", "w2").kind == "export"  # and other kinds
        with pytest.raises(NotFoundError):
            two.jobs.get(other, first.job_id)  # tenant-scoped
        assert one.jobs.start(first.job_id, "w1")
        assert two.jobs.get(tid, first.job_id).status == "running"
        assert one.jobs.finish(first.job_id, "w1", "succeeded", step="done", done=1, total=1,
                               result={"ok": True})
        ended = two.jobs.get(tid, first.job_id)
        assert ended.status == "succeeded" and ended.result == {"ok": True}
        assert ended.finished_at is not None and ended.error is None
        assert two.jobs.create(tid, "train", "w2").status == "queued"  # free again


def test_concurrent_creates_let_exactly_one_through(database_url: str) -> None:
    stores = [Store.open(database_url) for _ in range(4)]
    tid = stores[0].tenants.ensure("acme")
    outcomes: list[str] = []
    barrier = threading.Barrier(len(stores))

    def create(store: Store, owner: str) -> None:
        barrier.wait()
        try:
            store.jobs.create(tid, "train", owner)
            outcomes.append("created")
        except ConflictError:
            outcomes.append("conflict")

    threads = [threading.Thread(target=create, args=(s, f"w{i}")) for i, s in enumerate(stores)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    for s in stores:
        s.close()
    assert sorted(outcomes) == ["conflict"] * 3 + ["created"]


def test_progress_cancel_and_lost_signals(database_url: str) -> None:
    with Store.open(database_url) as store:
        tid = store.tenants.ensure("acme")
        job = store.jobs.create(tid, "train", "w1")
        assert store.jobs.progress(job.job_id, "w1", "fit", 1, 3) == "lost"  # not started
        assert store.jobs.start(job.job_id, "w1")
        assert not store.jobs.start(job.job_id, "w1")
        assert store.jobs.progress(job.job_id, "w1", "fit", 1, 3) == "run"
        assert store.jobs.progress(job.job_id, "w2", "fit", 2, 3) == "lost"  # not its owner
        got = store.jobs.get(tid, job.job_id)
        assert (got.step, got.done, got.total) == ("fit", 1, 3)
        assert store.jobs.heartbeat("w1") == {job.job_id: False}
        cancelled = store.jobs.request_cancel(tid, job.job_id)
        assert cancelled.cancel_requested and cancelled.status == "running"
        assert store.jobs.progress(job.job_id, "w1", "fit", 2, 3) == "cancel"
        assert store.jobs.heartbeat("w1") == {job.job_id: True}
        assert store.jobs.finish(job.job_id, "w1", "cancelled", step="fit", done=2, total=3,
                                 error={"code": "cancelled", "message": "", "details": {}})
        with pytest.raises(ConflictError) as caught:
            store.jobs.request_cancel(tid, job.job_id)
        assert caught.value.details["status"] == "cancelled"
        with pytest.raises(NotFoundError):
            store.jobs.request_cancel(tid, "nope")
        assert store.jobs.heartbeat("w1") == {}


def test_a_queued_job_cancels_at_once(database_url: str) -> None:
    with Store.open(database_url) as store:
        tid = store.tenants.ensure("acme")
        job = store.jobs.create(tid, "train", "w1")
        cancelled = store.jobs.request_cancel(tid, job.job_id)
        assert cancelled.status == "cancelled" and cancelled.error is not None
        assert cancelled.error["code"] == "cancelled"
        assert not store.jobs.start(job.job_id, "w1")  # its worker never runs it


def test_a_dead_workers_job_is_reaped_and_frees_the_tenant(database_url: str) -> None:
    with Store.open(database_url) as store:
        tid = store.tenants.ensure("acme")
        dead = store.jobs.create(tid, "train", "ghost:1")
        assert store.jobs.start(dead.job_id, "ghost:1")
        live = store.jobs.create(store.tenants.ensure("bravo"), "train", "w1")
        time.sleep(0.3)
        store.jobs.heartbeat("w1")  # the living worker beats; the ghost does not
        assert store.jobs.reap(0.2) == [dead.job_id]
        reaped = store.jobs.get(tid, dead.job_id)
        assert reaped.status == "failed" and reaped.error is not None
        assert reaped.error["code"] == WORKER_LOST and "ghost:1" in reaped.error["message"]
        assert store.jobs.get(live.tid, live.job_id).status == "queued"
        assert store.jobs.progress(dead.job_id, "ghost:1", "fit", 1, 1) == "lost"
        assert not store.jobs.finish(dead.job_id, "ghost:1", "succeeded", step="", done=0,
                                     total=None)
        assert store.jobs.get(tid, dead.job_id).status == "failed"  # the reaped state stands
        assert store.jobs.reap(0.2) == []
        again = store.jobs.create(tid, "train", "w1")
        time.sleep(0.3)
        third = store.jobs.create(tid, "train", "w2", stale_after=0.2)  # create reaps first
        assert store.jobs.get(tid, again.job_id).status == "failed"
        assert third.status == "queued"


def test_ended_jobs_beyond_the_newest_are_forgotten(database_url: str) -> None:
    with Store.open(database_url) as store:
        tid = store.tenants.ensure("acme")
        ids = []
        for _ in range(KEEP_ENDED + 3):
            job = store.jobs.create(tid, "train", "w1")
            store.jobs.request_cancel(tid, job.job_id)
            ids.append(job.job_id)
        store.jobs.create(tid, "train", "w1")
        recent = store.jobs.recent(tid)
        assert len(recent) == KEEP_ENDED and recent[0].status == "queued"
        kept = {r.job_id for r in store.jobs.recent(tid, limit=100)}
        assert len(kept) == KEEP_ENDED + 1 and set(ids[-KEEP_ENDED:]) <= kept
        with pytest.raises(NotFoundError):
            store.jobs.get(tid, ids[0])
