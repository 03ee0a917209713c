"""Background jobs of the API process (training), with progress, per tenant."""

from __future__ import annotations

import datetime as dt
import logging
import threading
import uuid
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from tailorcrm.errors import NotFoundError, TailorCRMError
from tailorcrm.jobs.train import TrainConfig, TrainReport, config_hash, train_tenant
from tailorcrm.recommend.ranking import Ranker
from tailorcrm.serving.cache import ModelCache, TenantModel
from tailorcrm.store import Store

log = logging.getLogger(__name__)

JobStatus = Literal["queued", "running", "succeeded", "failed"]


class JobState(BaseModel):
    """A job as the API shows it."""

    model_config = ConfigDict(extra="forbid")

    job_id: str
    kind: str
    status: JobStatus = "queued"
    step: str = ""
    done: int = 0
    total: int | None = None
    created_at: dt.datetime = Field(default_factory=lambda: dt.datetime.now(dt.UTC))
    finished_at: dt.datetime | None = None
    error: dict[str, Any] | None = None
    result: dict[str, Any] | None = None


def train_and_swap(store: Store, cache: ModelCache, tid: int, artifacts: Path,
                   config: TrainConfig, job: JobState) -> TrainReport:
    """The training job (as ``train_tenant``), swapping the fresh ranker into the cache at once
    so that this process serves the new version without reloading it."""

    def progress(step: str, done: int, total: int | None) -> None:
        job.step, job.done, job.total = step, done, total

    cutoff = dt.datetime.now(dt.UTC)

    def install(ranker: Ranker, version: str) -> None:
        entry = TenantModel(version, config_hash(config.ranking), ranker, cutoff=cutoff)
        entry.lean_ranker()
        cache.install(tid, entry)

    return train_tenant(store, tid, artifacts, config, progress, on_ranker=install)


class JobRunner:
    """Runs jobs in daemon threads (one at a time per tenant) and keeps their state in memory.

    Job state lives in this process: with several workers, ask the worker that took the job
    (sticky routing) or read the results (model versions, lists) from the store.
    """

    def __init__(self, store: Store, cache: ModelCache, artifacts: Path) -> None:
        self._store = store
        self._cache = cache
        self._artifacts = artifacts
        self._jobs: dict[str, tuple[int, JobState]] = {}
        self._tenant_locks: dict[int, threading.Lock] = {}
        self._guard = threading.Lock()

    def submit_train(self, tid: int, config: TrainConfig) -> JobState:
        """Start training tenant ``tid`` in the background; returns the queued job."""
        job = JobState(job_id=uuid.uuid4().hex, kind="train")
        with self._guard:
            self._jobs[job.job_id] = (tid, job)
            lock = self._tenant_locks.setdefault(tid, threading.Lock())
        thread = threading.Thread(target=self._run, args=(tid, config, job, lock),
                                  name=f"train-{job.job_id[:8]}", daemon=True)
        thread.start()
        return job

    def _run(self, tid: int, config: TrainConfig, job: JobState, lock: threading.Lock) -> None:
        with lock:
            job.status = "running"
            try:
                report = train_and_swap(self._store, self._cache, tid, self._artifacts, config,
                                        job)
                job.result = report.model_dump(mode="json")
                job.status = "succeeded"
            except TailorCRMError as exc:
                log.warning("job %s failed: %s", job.job_id, exc.message)
                job.error, job.status = exc.to_dict()["error"], "failed"
            except Exception as exc:  # a job must end with a state, never vanish
                log.exception("job %s crashed", job.job_id)
                job.error = {"code": "internal_error", "message": str(exc), "details": {}}
                job.status = "failed"
            finally:
                job.finished_at = dt.datetime.now(dt.UTC)

    def get(self, tid: int, job_id: str) -> JobState:
        """A job of tenant ``tid``; NotFoundError for unknown ids and other tenants' jobs."""
        found = self._jobs.get(job_id)
        if found is None or found[0] != tid:
            raise NotFoundError(f"no job {job_id!r}", job_id=job_id)
        return found[1]
