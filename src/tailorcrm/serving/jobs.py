"""Background jobs of the API process (training): one per tenant at a time, cancellable."""

from __future__ import annotations

import datetime as dt
import logging
import threading
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from tailorcrm.errors import CancelledError, ConflictError, NotFoundError, TailorCRMError
from tailorcrm.jobs.progress import ProgressFn
from tailorcrm.jobs.train import TrainConfig, TrainReport, config_hash, train_tenant
from tailorcrm.recommend.ranking import Ranker
from tailorcrm.serving.cache import ModelCache, TenantModel
from tailorcrm.store import Store

log = logging.getLogger(__name__)

JobStatus = Literal["queued", "running", "succeeded", "failed", "cancelled"]
ENDED = ("succeeded", "failed", "cancelled")
MAX_RUNNING = 2  # training jobs running at once in one process (all tenants)
KEEP_ENDED = 20  # ended jobs remembered per tenant (older ones answer 404)


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


@dataclass
class _Job:
    tid: int
    state: JobState
    cancel: threading.Event = field(default_factory=threading.Event)


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
        entry.lean_ranker()
        entry.ranker.prepare()
        cache.install(tid, entry)

    return train_tenant(store, tid, artifacts, config, progress, on_ranker=install)


class JobRunner:
    """Runs training jobs in daemon threads and keeps their state in memory.

    A tenant has at most one queued or running training job: another submit answers 409
    (ConflictError) with that job's id in ``details.job_id``. At most ``max_running`` jobs run
    at once; the others wait as ``queued``. :meth:`cancel` stops a job at its next progress
    report. ``observe`` sees every progress report (metrics, tests).

    Job state lives in this process: with several workers, ask the worker that took the job
    (sticky routing) or read the results (model versions, lists) from the store.
    """

    def __init__(self, store: Store, cache: ModelCache, artifacts: Path, *,
                 max_running: int = MAX_RUNNING, observe: ProgressFn | None = None) -> None:
        self._store = store
        self._cache = cache
        self._artifacts = artifacts
        self._observe = observe
        self._jobs: dict[str, _Job] = {}
        self._current: dict[int, _Job] = {}  # tenant -> its queued or running job
        self._slots = threading.Semaphore(max_running)
        self._guard = threading.Lock()

    def submit_train(self, tid: int, config: TrainConfig) -> JobState:
        """Start training tenant ``tid`` in the background; returns the queued job.

        Raises
        ------
        ConflictError
            When the tenant has a queued or running training job (``details.job_id``).
        """
        job = _Job(tid, JobState(job_id=uuid.uuid4().hex, kind="train"))
        with self._guard:
            current = self._current.get(tid)
            if current is not None:
                raise ConflictError("a training job of this tenant is queued or running; "
                                    "wait for it or cancel it", job_id=current.state.job_id,
                                    status=current.state.status)
            self._current[tid] = job
            self._jobs[job.state.job_id] = job
            self._forget_old(tid)
        thread = threading.Thread(target=self._run, args=(job, config),
                                  name=f"train-{job.state.job_id[:8]}", daemon=True)
        thread.start()
        return job.state

    def get(self, tid: int, job_id: str) -> JobState:
        """A job of tenant ``tid``; NotFoundError for unknown ids and other tenants' jobs."""
        return self._find(tid, job_id).state

    def cancel(self, tid: int, job_id: str) -> JobState:
        """Ask a queued or running job to stop; it ends as ``cancelled`` at its next progress
        report (a queued job at once).

        Raises
        ------
        NotFoundError
            For unknown ids and other tenants' jobs.
        ConflictError
            When the job has ended already.
        """
        job = self._find(tid, job_id)
        with self._guard:
            state = job.state
            if state.status in ENDED:
                raise ConflictError(f"job {job_id!r} has ended already ({state.status})",
                                    job_id=job_id, status=state.status)
            job.cancel.set()
            state.cancel_requested = True
            if state.status == "queued":
                self._end(job, "cancelled")
        return state

    def _find(self, tid: int, job_id: str) -> _Job:
        found = self._jobs.get(job_id)
        if found is None or found.tid != tid:
            raise NotFoundError(f"no job {job_id!r}", job_id=job_id)
        return found

    def _run(self, job: _Job, config: TrainConfig) -> None:
        state = job.state
        ended: JobStatus
        with self._slots:
            with self._guard:
                if state.status != "queued":  # cancelled while it waited
                    return
                state.status = "running"
            try:
                report = train_and_swap(self._store, self._cache, job.tid, self._artifacts,
                                        config, state, job.cancel, self._observe)
                state.result = report.model_dump(mode="json")
                ended = "succeeded"
            except CancelledError as exc:
                log.info("job %s cancelled at %s", state.job_id, state.step)
                state.error, ended = exc.to_dict()["error"], "cancelled"
            except TailorCRMError as exc:
                log.warning("job %s failed: %s", state.job_id, exc.message)
                state.error, ended = exc.to_dict()["error"], "failed"
            except Exception as exc:  # a job must end with a state, never vanish
                log.exception("job %s crashed", state.job_id)
                state.error = {"code": "internal_error", "message": str(exc), "details": {}}
                ended = "failed"
            with self._guard:
                self._end(job, ended)

    def _end(self, job: _Job, status: JobStatus) -> None:
        """Mark a job ended and free its tenant (call with the guard held)."""
        job.state.status = status
        job.state.finished_at = dt.datetime.now(dt.UTC)
        if self._current.get(job.tid) is job:
            del self._current[job.tid]

    def _forget_old(self, tid: int) -> None:
        """Keep the newest ``KEEP_ENDED`` ended jobs of a tenant (call with the guard held)."""
        ended = [k for k, j in self._jobs.items() if j.tid == tid and j.state.status in ENDED]
        for key in ended[:max(0, len(ended) - KEEP_ENDED)]:
            del self._jobs[key]
