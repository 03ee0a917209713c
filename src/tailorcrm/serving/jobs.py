"""Background jobs of the API (training): one per tenant at a time, cancellable, their state in
the store so that any worker answers for any job."""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from tailorcrm.errors import CancelledError, TailorCRMError
from tailorcrm.jobs.progress import ProgressFn
from tailorcrm.jobs.train import TrainConfig, TrainReport, config_hash, train_tenant
from tailorcrm.recommend.ranking import Ranker
from tailorcrm.serving.cache import ModelCache, TenantModel
from tailorcrm.store import Store
from tailorcrm.store.jobs import ENDED, KEEP_ENDED, WORKER_LOST, JobRecord, JobStatus

log = logging.getLogger(__name__)

__all__ = ["ENDED", "HEARTBEAT_S", "KEEP_ENDED", "MAX_RUNNING", "PROGRESS_EVERY_S",
           "STALE_AFTER_S", "JobRunner", "JobState", "JobStatus", "train_and_swap", "worker_id"]

MAX_RUNNING = 2  # training jobs running at once in one process (all tenants)
PROGRESS_EVERY_S = 0.5  # a job writes its progress and reads its cancel flag at most this often
HEARTBEAT_S = 2.0  # a worker touches its jobs' heartbeats (and flushes their progress) this often
STALE_AFTER_S = 60.0  # a queued or running job whose worker has not beaten for this long fails


class JobState(BaseModel):
    """A job as the API shows it."""

    model_config = ConfigDict(extra="forbid")

    job_id: str
    kind: str
    status: JobStatus = "queued"
    step: str = ""
    done: int = 0
    total: int | None = None
    cancel_requested: bool = False
    created_at: dt.datetime = Field(default_factory=lambda: dt.datetime.now(dt.UTC))
    finished_at: dt.datetime | None = None
    error: dict[str, Any] | None = None
    result: dict[str, Any] | None = None


def worker_id() -> str:
    """This process's name as a job owner: ``hostname:pid``."""
    return f"{socket.gethostname()}:{os.getpid()}"


def _state(record: JobRecord) -> JobState:
    """The API view of a stored job."""
    return JobState(job_id=record.job_id, kind=record.kind, status=record.status,
                    step=record.step, done=record.done, total=record.total,
                    cancel_requested=record.cancel_requested, created_at=record.created_at,
                    finished_at=record.finished_at, error=record.error, result=record.result)


@dataclass
class _Job:
    """A job this process runs: its live state, its cancel event, what the store has seen."""

    tid: int
    state: JobState
    cancel: threading.Event = field(default_factory=threading.Event)
    written: float = 0.0  # time.monotonic() of the last progress write
    dirty: bool = False  # progress reported since that write
    lost: bool = False  # the store no longer has it running under this owner (reaped)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)


def train_and_swap(store: Store, cache: ModelCache, tid: int, artifacts: Path,
                   config: TrainConfig, job: JobState, cancel: threading.Event | None = None,
                   observe: ProgressFn | None = None) -> TrainReport:
    """The training job (as ``train_tenant``), swapping the fresh ranker into the cache once it
    is active, so that this process serves the new version without reloading it.

    Every progress report is a checkpoint: once ``cancel`` is set the job raises
    :class:`~tailorcrm.errors.CancelledError` there (before the recommender is activated,
    nothing of the run serves). ``observe`` sees each report first.
    """

    def progress(step: str, done: int, total: int | None) -> None:
        job.step, job.done, job.total = step, done, total
        if observe is not None:
            observe(step, done, total)
        if cancel is not None and cancel.is_set():
            raise CancelledError("the job was cancelled", job_id=job.job_id, step=step)

    cutoff = dt.datetime.now(dt.UTC)

    def install(ranker: Ranker, version: str) -> None:
        entry = TenantModel(version, config_hash(config.ranking), ranker, cutoff=cutoff)
        entry.ranker.prepare()
        cache.install(tid, entry)

    return train_tenant(store, tid, artifacts, config, progress, on_ranker=install)


class JobRunner:
    """Runs training jobs in daemon threads; their state lives in the store (``store.jobs``).

    Any worker over the same database answers for any job: :meth:`get` and :meth:`cancel`
    read and write the job's row, whoever runs it. A tenant has at most one queued or running
    training job, enforced by the database across workers: another submit answers 409
    (ConflictError) with that job's id in ``details.job_id``. At most ``max_running`` jobs run
    at once in this process; its others wait as ``queued``. ``observe`` sees every progress
    report (metrics, tests).

    The job writes its progress to the store at most every ``progress_every`` seconds and reads
    its cancel flag with it, so a cancel through another worker stops the job at its first
    progress report after that write (or after the next heartbeat, every ``heartbeat_every``
    seconds, which also flushes progress held back). A job whose worker stopped beating for
    ``stale_after`` seconds is marked failed (``worker_lost``) by whichever worker looks next
    (a heartbeat, a get, a cancel or a submit of that tenant), and its tenant may train again.

    Parameters
    ----------
    owner:
        This worker's name in the job rows; by default ``hostname:pid`` (:func:`worker_id`).
    """

    def __init__(self, store: Store, cache: ModelCache, artifacts: Path, *,
                 max_running: int = MAX_RUNNING, observe: ProgressFn | None = None,
                 owner: str | None = None, progress_every: float = PROGRESS_EVERY_S,
                 heartbeat_every: float = HEARTBEAT_S, stale_after: float = STALE_AFTER_S,
                 ) -> None:
        self._store = store
        self._cache = cache
        self._artifacts = artifacts
        self._observe = observe
        self.owner = owner or worker_id()
        self.progress_every = progress_every
        self.heartbeat_every = heartbeat_every
        self.stale_after = stale_after
        self._live: dict[str, _Job] = {}  # the queued and running jobs of this runner
        self._slots = threading.Semaphore(max_running)
        self._guard = threading.Lock()
        self._beater: threading.Thread | None = None
        self._closed = threading.Event()

    def submit_train(self, tid: int, config: TrainConfig) -> JobState:
        """Start training tenant ``tid`` in the background; returns the queued job.

        The state returned is this runner's live view of the job (it changes as the job
        runs); :meth:`get` reads the stored one.

        Raises
        ------
        ConflictError
            When the tenant has a queued or running training job in any worker
            (``details.job_id``, ``details.status``).
        """
        record = self._store.jobs.create(tid, "train", self.owner, stale_after=self.stale_after)
        job = _Job(tid, _state(record))
        with self._guard:
            self._live[record.job_id] = job
            self._ensure_beating()
        thread = threading.Thread(target=self._run, args=(job, config),
                                  name=f"train-{record.job_id[:8]}", daemon=True)
        thread.start()
        return job.state

    def get(self, tid: int, job_id: str) -> JobState:
        """A job of tenant ``tid`` as stored; NotFoundError for unknown ids and other tenants'
        jobs. A job whose worker stopped beating is marked failed first."""
        return _state(self._fresh(tid, job_id))

    def cancel(self, tid: int, job_id: str) -> JobState:
        """Ask a queued or running job to stop, whichever worker runs it; it ends as
        ``cancelled`` at its next progress report (a queued job at once).

        Raises
        ------
        NotFoundError
            For unknown ids and other tenants' jobs.
        ConflictError
            When the job has ended already.
        """
        self._fresh(tid, job_id)
        record = self._store.jobs.request_cancel(tid, job_id)
        live = self._live.get(job_id)
        if live is not None:  # ours: no need to wait for the next read of the flag
            live.state.cancel_requested = True
            live.cancel.set()
        return _state(record)

    def beat(self) -> None:
        """One heartbeat round (the heartbeat thread calls it every ``heartbeat_every`` s):
        touch this runner's jobs, flush their held-back progress, pass on cancel flags set
        through other workers, and fail the jobs of workers that stopped beating."""
        with self._guard:
            jobs = list(self._live.values())
        try:
            flags = self._store.jobs.heartbeat(self.owner)
            for job in jobs:
                if job.state.status == "running" and job.dirty:
                    self._write(job)
                flag = flags.get(job.state.job_id)
                if flag is None:  # ended, cancelled while queued, or reaped
                    job.lost = job.state.status == "running"
                    job.cancel.set()
                elif flag:
                    job.state.cancel_requested = True
                    job.cancel.set()
            self._store.jobs.reap(self.stale_after)
        except Exception:  # a heartbeat never takes the worker down; the next one retries
            log.warning("job heartbeat of %s failed", self.owner, exc_info=True)

    def close(self) -> None:
        """Stop the heartbeat and fail this runner's queued and running jobs (the worker shuts
        down: its job threads end with the process)."""
        self._closed.set()
        with self._guard:
            jobs = list(self._live.values())
        for job in jobs:
            error = {"code": WORKER_LOST, "message": f"the worker running this job "
                     f"({self.owner}) shut down; start the job again",
                     "details": {"owner": self.owner}}
            try:
                self._store.jobs.finish(job.state.job_id, self.owner, "failed",
                                        step=job.state.step, done=job.state.done,
                                        total=job.state.total, error=error)
            except Exception:  # reaped later instead
                log.warning("could not mark job %s failed", job.state.job_id, exc_info=True)
            job.lost = True
            job.cancel.set()

    def _fresh(self, tid: int, job_id: str) -> JobRecord:
        """The stored job, reaped first when its worker stopped beating."""
        record = self._store.jobs.get(tid, job_id)
        cutoff = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=self.stale_after)
        if record.active and record.heartbeat_at < cutoff:
            self._store.jobs.reap(self.stale_after, tid=tid)
            record = self._store.jobs.get(tid, job_id)
        return record

    def _ensure_beating(self) -> None:
        """Start the heartbeat thread unless it runs (call with the guard held)."""
        if self._beater is None and not self._closed.is_set():
            self._beater = threading.Thread(target=self._beat_loop, daemon=True,
                                            name=f"jobs-heartbeat-{self.owner}")
            self._beater.start()

    def _beat_loop(self) -> None:
        """Beat while this runner has jobs; the thread ends with the last of them."""
        while not self._closed.wait(self.heartbeat_every):
            with self._guard:
                if not self._live:
                    self._beater = None
                    return
            self.beat()
        with self._guard:
            self._beater = None

    def _report(self, job: _Job, step: str, done: int, total: int | None) -> None:
        """A progress report of ``job`` (its state holds it already): observed, then written
        when the last write is ``progress_every`` old."""
        job.dirty = True  # before observing: the heartbeat flushes it while an observer waits
        if self._observe is not None:
            self._observe(step, done, total)
        if time.monotonic() - job.written >= self.progress_every:
            self._write(job)

    def _write(self, job: _Job) -> None:
        """Store the job's progress and act on what the store says (cancel, lost)."""
        state = job.state
        with job.lock:
            try:
                signal = self._store.jobs.progress(state.job_id, self.owner, state.step,
                                                   state.done, state.total)
            except Exception:  # progress is best effort; the heartbeat retries
                log.warning("could not store progress of job %s", state.job_id, exc_info=True)
                return
            job.written, job.dirty = time.monotonic(), False
        if signal == "cancel":
            state.cancel_requested = True
            job.cancel.set()
        elif signal == "lost":
            job.lost = True
            job.cancel.set()

    def _run(self, job: _Job, config: TrainConfig) -> None:
        state = job.state
        ended: JobStatus
        try:
            with self._slots:
                if not self._store.jobs.start(state.job_id, self.owner):
                    self._reload(job)  # cancelled while it waited (any worker), or reaped
                    return
                state.status = "running"
                job.written = time.monotonic()
                error: dict[str, Any] | None = None
                result: dict[str, Any] | None = None
                try:
                    report = train_and_swap(
                        self._store, self._cache, job.tid, self._artifacts, config, state,
                        job.cancel, lambda step, done, total: self._report(job, step, done,
                                                                           total))
                    result, ended = report.model_dump(mode="json"), "succeeded"
                except CancelledError as exc:
                    log.info("job %s cancelled at %s", state.job_id, state.step)
                    error, ended = exc.to_dict()["error"], "cancelled"
                except TailorCRMError as exc:
                    log.warning("job %s failed: %s", state.job_id, exc.message)
                    error, ended = exc.to_dict()["error"], "failed"
                except Exception as exc:  # a job must end with a state, never vanish
                    log.exception("job %s crashed", state.job_id)
                    error = {"code": "internal_error", "message": str(exc), "details": {}}
                    ended = "failed"
                try:
                    self._end(job, ended, result, error)
                except Exception:  # the store is unreachable: the row is reaped later
                    log.exception("could not store the end of job %s", state.job_id)
        finally:
            with self._guard:
                self._live.pop(state.job_id, None)

    def _end(self, job: _Job, status: JobStatus, result: dict[str, Any] | None,
             error: dict[str, Any] | None) -> None:
        """Store the job's end; when it was reaped meanwhile, that state stands."""
        state = job.state
        with job.lock:
            stored = self._store.jobs.finish(state.job_id, self.owner, status, step=state.step,
                                             done=state.done, total=state.total, result=result,
                                             error=error)
        if stored:
            state.result, state.error = result, error
            state.finished_at = dt.datetime.now(dt.UTC)
            state.status = status
        else:
            log.warning("job %s ended (%s) after it was taken from this worker", state.job_id,
                        status)
            self._reload(job)

    def _reload(self, job: _Job) -> None:
        """Copy the stored state into the live one."""
        stored = _state(self._store.jobs.get(job.tid, job.state.job_id))
        for name in ("cancel_requested", "finished_at", "error", "result", "status"):
            setattr(job.state, name, getattr(stored, name))
