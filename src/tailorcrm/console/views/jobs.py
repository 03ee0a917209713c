"""The jobs page: start training, follow a job live, cancel it, and the log of earlier runs."""

from __future__ import annotations

import datetime as dt
from typing import Any

from tailorcrm.store import Store
from tailorcrm.store.jobs import ACTIVE, JobRecord

KIND = "train"
STEPS = (("recommend", "Recommender (fit, choose, activate)"),
         ("precompute", "Precompute every customer's list"),
         ("needs", "Need models and scores"),
         ("segments", "RFM and behavioural segments"),
         ("strategies", "Models of the stored strategies"))
"""The training steps a run can do (``TrainConfig`` fields), with their labels on the form."""


def _seconds(start: dt.datetime | None, end: dt.datetime | None) -> float | None:
    if start is None:
        return None
    stop = end or dt.datetime.now(dt.UTC)
    return max(0.0, (stop - start).total_seconds())


def duration(seconds: float | None) -> str:
    """``12.3 s``, ``4 min 05 s`` or ``1 h 02 min``; empty for None."""
    if seconds is None:
        return ""
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def summary(result: dict[str, Any] | None) -> str:
    """One line of what a finished training run did (from its ``TrainReport``)."""
    if not result:
        return ""
    parts = []
    version = result.get("recommender_version")
    if version:
        chosen = (result.get("recommender_choice") or {}).get("chosen")
        parts.append(f"recommender {version}" + (f" ({chosen})" if chosen else ""))
    if result.get("recommendation_lists"):
        parts.append(f"{int(result['recommendation_lists']):,} lists")
    if result.get("needs"):
        parts.append(f"{len(result['needs'])} need models")
    if result.get("segmentations"):
        parts.append(f"{len(result['segmentations'])} segmentations")
    if result.get("strategies"):
        parts.append(f"{len(result['strategies'])} strategy models")
    read = [f"{int(result.get(k) or 0):,} {k}" for k in ("customers", "items", "events")
            if result.get(k)]
    if read:
        parts.append("read " + ", ".join(read))
    return " · ".join(parts) or "nothing to do"


def job_view(job: Any) -> dict[str, Any]:
    """A job (a stored ``JobRecord`` or the runner's ``JobState``) as the page shows it."""
    total = job.total if job.total else None
    percent = None
    if total:
        percent = max(0, min(100, round(100 * job.done / total)))
    started = getattr(job, "started_at", None) or (job.created_at if job.status != "queued"
                                                    else None)
    error = job.error or {}
    return {"job_id": job.job_id, "kind": job.kind, "status": job.status, "step": job.step,
            "done": job.done, "total": total, "percent": percent,
            "active": job.status in ACTIVE, "cancel_requested": job.cancel_requested,
            "created_at": job.created_at, "started_at": getattr(job, "started_at", None),
            "finished_at": job.finished_at,
            "duration": duration(_seconds(started, job.finished_at)),
            "summary": summary(job.result) if job.status == "succeeded" else "",
            "error": str(error.get("message", "")) if error else "",
            "error_code": str(error.get("code", "")) if error else ""}


def jobs_page(store: Store, tid: int, job_id: str | None = None) -> dict[str, Any]:
    """The active training job (or ``job_id``'s, when it is the tenant's) and the log."""
    records: list[JobRecord] = store.jobs.recent(tid, kind=KIND)
    current = next((r for r in records if r.job_id == job_id), None) if job_id else None
    if current is None:
        current = store.jobs.active(tid, KIND)
    return {"current": job_view(current) if current is not None else None,
            "busy": any(r.status in ACTIVE for r in records),
            "log": [job_view(r) for r in records], "steps": STEPS}
