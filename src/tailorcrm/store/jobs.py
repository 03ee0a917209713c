"""Background jobs in the store: state and progress every worker reads, one active per tenant.

A job row is written by the worker that runs it (its ``owner``) and read by any worker, so
``GET /v1/jobs/{id}`` answers the same wherever it lands. The database enforces one queued or
running job per (tenant, kind) with a partial unique index (``uq_jobs_active``), which holds
across processes on SQLite and PostgreSQL alike. The owner touches ``heartbeat_at`` every few
seconds; :meth:`JobRepository.reap` marks the active jobs of a worker that stopped doing so
failed, which frees the tenant to start again.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict
from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from tailorcrm.errors import ConflictError, NotFoundError
from tailorcrm.store.base import Repository, as_utc
from tailorcrm.store.tables import Job, utcnow

log = logging.getLogger(__name__)

JobStatus = Literal["queued", "running", "succeeded", "failed", "cancelled"]
ACTIVE: tuple[JobStatus, ...] = ("queued", "running")
ENDED: tuple[JobStatus, ...] = ("succeeded", "failed", "cancelled")
KEEP_ENDED = 20  # ended jobs kept per tenant and kind (older ones are deleted: 404)
WORKER_LOST = "worker_lost"  # error code of a job reaped after its worker stopped
Signal = Literal["run", "cancel", "lost"]


class JobRecord(BaseModel):
    """A job row as stored (every time timezone-aware UTC)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    job_id: str
    tid: int
    kind: str
    status: JobStatus
    step: str = ""
    done: int = 0
    total: int | None = None
    cancel_requested: bool = False
    created_at: dt.datetime
    started_at: dt.datetime | None = None
    finished_at: dt.datetime | None = None
    heartbeat_at: dt.datetime
    error: dict[str, Any] | None = None
    result: dict[str, Any] | None = None
    owner: str = ""

    @property
    def active(self) -> bool:
        """Queued or running."""
        return self.status in ACTIVE


_COLUMNS = (Job.job_id, Job.tenant_id, Job.kind, Job.status, Job.step, Job.done, Job.total,
            Job.cancel_requested, Job.created_at, Job.started_at, Job.finished_at,
            Job.heartbeat_at, Job.error, Job.result, Job.owner)


def _record(row: Any) -> JobRecord:
    return JobRecord(job_id=row.job_id, tid=row.tenant_id, kind=row.kind, status=row.status,
                     step=row.step, done=row.done, total=row.total,
                     cancel_requested=bool(row.cancel_requested),
                     created_at=as_utc(row.created_at), started_at=as_utc(row.started_at),
                     finished_at=as_utc(row.finished_at), heartbeat_at=as_utc(row.heartbeat_at),
                     error=row.error, result=row.result, owner=row.owner)


class JobRepository(Repository):
    """Create, follow, cancel, end and reap background jobs (tenant-scoped reads)."""

    def create(self, tid: int, kind: str, owner: str, *, job_id: str | None = None,
               stale_after: float | None = None) -> JobRecord:
        """A new ``queued`` job of tenant ``tid`` run by ``owner``.

        With ``stale_after``, the tenant's jobs whose owner has not beaten for that many
        seconds are reaped first (so a dead worker's job does not block the tenant). Ended jobs
        beyond the newest ``KEEP_ENDED`` of the tenant and kind are deleted.

        Raises
        ------
        ConflictError
            When the tenant has a queued or running job of this kind (``details.job_id``,
            ``details.status``); decided by the database, so it holds across workers.
        """
        if stale_after is not None:
            self.reap(stale_after, tid=tid)
        job_id = job_id or uuid.uuid4().hex
        for _ in range(5):
            now = utcnow()
            try:
                with self._engine.begin() as conn:
                    conn.execute(insert(Job).values(
                        job_id=job_id, tenant_id=tid, kind=kind, status="queued", step="",
                        done=0, total=None, cancel_requested=False, created_at=now,
                        heartbeat_at=now, owner=owner))
            except IntegrityError:
                current = self.active(tid, kind)
                if current is None:  # it ended between our insert and this read: try again
                    continue
                raise ConflictError(f"a {kind} job of this tenant is queued or running; "
                                    "wait for it or cancel it", job_id=current.job_id,
                                    status=current.status) from None
            self._forget_old(tid, kind)
            return self.get(tid, job_id)
        raise ConflictError(f"a {kind} job of this tenant keeps starting; try again", kind=kind)

    def get(self, tid: int, job_id: str) -> JobRecord:
        """Job ``job_id`` of tenant ``tid``; NotFoundError for unknown ids and other tenants'."""
        with self._engine.connect() as conn:
            row = conn.execute(select(*_COLUMNS).where(
                Job.job_id == job_id, Job.tenant_id == tid)).first()
        if row is None:
            raise NotFoundError(f"no job {job_id!r}", job_id=job_id)
        return _record(row)

    def active(self, tid: int, kind: str) -> JobRecord | None:
        """The tenant's queued or running job of ``kind``, if any."""
        with self._engine.connect() as conn:
            row = conn.execute(select(*_COLUMNS).where(
                Job.tenant_id == tid, Job.kind == kind, Job.status.in_(ACTIVE))).first()
        return None if row is None else _record(row)

    def recent(self, tid: int, *, kind: str | None = None, limit: int = KEEP_ENDED
               ) -> list[JobRecord]:
        """The tenant's newest jobs (of ``kind`` when given), newest first."""
        stmt = select(*_COLUMNS).where(Job.tenant_id == tid)
        if kind is not None:
            stmt = stmt.where(Job.kind == kind)
        with self._engine.connect() as conn:
            rows = conn.execute(stmt.order_by(Job.created_at.desc(), Job.job_id)
                                .limit(limit)).all()
        return [_record(r) for r in rows]

    def start(self, job_id: str, owner: str) -> bool:
        """Mark a queued job of ``owner`` running; False when it is no longer queued
        (cancelled while it waited, or reaped)."""
        now = utcnow()
        with self._engine.begin() as conn:
            result = conn.execute(update(Job).where(
                Job.job_id == job_id, Job.owner == owner, Job.status == "queued",
            ).values(status="running", started_at=now, heartbeat_at=now))
        return bool(result.rowcount)

    def progress(self, job_id: str, owner: str, step: str, done: int, total: int | None
                 ) -> Signal:
        """Store a running job's progress (and beat its heartbeat); what the job should do:
        ``run`` on, ``cancel`` (asked through any worker) or ``lost`` (it is no longer running
        under ``owner``: reaped or ended elsewhere)."""
        with self._engine.begin() as conn:
            row = conn.execute(update(Job).where(
                Job.job_id == job_id, Job.owner == owner, Job.status == "running",
            ).values(step=step[:200], done=done, total=total, heartbeat_at=utcnow())
                .returning(Job.cancel_requested)).first()
        if row is None:
            return "lost"
        return "cancel" if row.cancel_requested else "run"

    def heartbeat(self, owner: str) -> dict[str, bool]:
        """Touch the heartbeat of every queued or running job of ``owner``;
        ``{job_id: cancel_requested}`` of those jobs."""
        with self._engine.begin() as conn:
            rows = conn.execute(update(Job).where(
                Job.owner == owner, Job.status.in_(ACTIVE),
            ).values(heartbeat_at=utcnow()).returning(Job.job_id, Job.cancel_requested)).all()
        return {str(r.job_id): bool(r.cancel_requested) for r in rows}

    def request_cancel(self, tid: int, job_id: str) -> JobRecord:
        """Ask a queued or running job to stop: a queued one ends ``cancelled`` at once, a
        running one when its worker next reads the flag.

        Raises
        ------
        NotFoundError
            For unknown ids and other tenants' jobs.
        ConflictError
            When the job has ended already (``details.status``).
        """
        now = utcnow()
        error = {"code": "cancelled", "message": "the job was cancelled before it started",
                 "details": {"job_id": job_id}}
        scoped = (Job.job_id == job_id, Job.tenant_id == tid)
        with self._engine.begin() as conn:
            changed = conn.execute(update(Job).where(*scoped, Job.status == "queued").values(
                status="cancelled", cancel_requested=True, finished_at=now,
                error=error)).rowcount
            if not changed:
                changed = conn.execute(update(Job).where(*scoped, Job.status == "running")
                                       .values(cancel_requested=True)).rowcount
        record = self.get(tid, job_id)
        if not changed:
            raise ConflictError(f"job {job_id!r} has ended already ({record.status})",
                                job_id=job_id, status=record.status)
        return record

    def finish(self, job_id: str, owner: str, status: JobStatus, *, step: str, done: int,
               total: int | None, result: dict[str, Any] | None = None,
               error: dict[str, Any] | None = None) -> bool:
        """End a job of ``owner`` with ``status`` (an ended status); False when it is no longer
        active under ``owner`` (reaped meanwhile: that state stands)."""
        if status not in ENDED:
            raise ValueError(f"{status!r} is not an ended status")
        now = utcnow()
        with self._engine.begin() as conn:
            done_ = conn.execute(update(Job).where(
                Job.job_id == job_id, Job.owner == owner, Job.status.in_(ACTIVE),
            ).values(status=status, step=step[:200], done=done, total=total, finished_at=now,
                     heartbeat_at=now, result=result, error=error))
        return bool(done_.rowcount)

    def reap(self, stale_after: float, *, tid: int | None = None) -> list[str]:
        """Mark failed every queued or running job (of tenant ``tid`` when given) whose
        heartbeat is older than ``stale_after`` seconds: its worker died or hangs. Returns the
        ids reaped; their ``error`` says which worker stopped and when (code ``worker_lost``).
        """
        cutoff = utcnow() - dt.timedelta(seconds=stale_after)
        stale = (Job.status.in_(ACTIVE), Job.heartbeat_at < cutoff)
        stmt = select(Job.job_id, Job.owner, Job.heartbeat_at).where(*stale)
        if tid is not None:
            stmt = stmt.where(Job.tenant_id == tid)
        reaped: list[str] = []
        with self._engine.begin() as conn:
            for row in conn.execute(stmt).all():
                seen = as_utc(row.heartbeat_at)
                seen_at = seen.isoformat(timespec="seconds") if seen else None
                error = {"code": WORKER_LOST,
                         "message": f"the worker running this job ({row.owner}) stopped: no "
                                    f"heartbeat since {seen_at} (more than {stale_after:g} s); "
                                    "start the job again",
                         "details": {"owner": row.owner, "heartbeat_at": seen_at}}
                result = conn.execute(update(Job).where(Job.job_id == row.job_id, *stale)
                                      .values(status="failed", finished_at=utcnow(),
                                              error=error))
                if result.rowcount:
                    reaped.append(str(row.job_id))
        for job_id in reaped:
            log.warning("job %s reaped: its worker stopped beating", job_id)
        return reaped

    def _forget_old(self, tid: int, kind: str) -> None:
        """Delete the tenant's ended jobs of ``kind`` beyond the newest ``KEEP_ENDED``."""
        with self._engine.begin() as conn:
            old = conn.execute(select(Job.job_id).where(
                Job.tenant_id == tid, Job.kind == kind, Job.status.in_(ENDED))
                .order_by(Job.created_at.desc(), Job.job_id).offset(KEEP_ENDED)).scalars().all()
            if old:
                conn.execute(delete(Job).where(Job.job_id.in_(old)))
