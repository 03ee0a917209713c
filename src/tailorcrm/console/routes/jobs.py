"""The jobs pages: start a training run, watch it live (an htmx fragment polled every second
while it is queued or running), cancel it, and the log of earlier runs."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Form, Path, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from tailorcrm.console.auth import PREFIX, Viewer, WritePost
from tailorcrm.console.render import page, redirect
from tailorcrm.console.views.jobs import STEPS, job_view, jobs_page
from tailorcrm.errors import ConflictError, ValidationError
from tailorcrm.jobs.train import TrainConfig
from tailorcrm.serving.jobs import JobRunner

router = APIRouter(prefix=PREFIX, include_in_schema=False)

JobId = Annotated[str, Path(min_length=1, max_length=64)]
_STEP_NAMES = {name for name, _ in STEPS}


def _runner(request: Request) -> JobRunner:
    runner: JobRunner = request.app.state.jobs
    return runner


@router.get("/jobs")
async def jobs_list(request: Request, user: Viewer, job: str = "", busy: int = 0
                    ) -> Response:
    """The form to start training, the current job live, and the log of earlier runs."""
    data = await run_in_threadpool(jobs_page, request.app.state.store, user.tid,
                                   job[:64] or None)
    flash = ("A training job of this tenant is queued or running already: here it is."
             if busy else "")
    return page(request, "jobs.html", user, active="jobs", j=data, flash=flash)


@router.post("/jobs/train")
async def start_training(request: Request, user: WritePost,
                         steps: Annotated[list[str] | None, Form()] = None
                         ) -> Response:
    """Start a training run with the steps ticked (write scope); then watch it on the page.
    A tenant trains one run at a time: a second start goes to the running one."""
    chosen = set(steps or ())
    if not chosen or not chosen <= _STEP_NAMES:
        raise ValidationError("tick at least one training step", steps=sorted(chosen))
    config = TrainConfig(**{name: name in chosen for name in _STEP_NAMES})
    try:
        state = await run_in_threadpool(_runner(request).submit_train, user.tid, config)
    except ConflictError as exc:
        running = str(exc.details.get("job_id", ""))
        return redirect(f"{PREFIX}/jobs?job={quote(running, safe='')}&busy=1")
    return redirect(f"{PREFIX}/jobs?job={quote(state.job_id, safe='')}")


@router.get("/jobs/{job_id}/progress")
async def job_progress(request: Request, user: Viewer, job_id: JobId) -> Response:
    """A job's live state as a fragment; it polls itself every second until the job ends."""
    state = await run_in_threadpool(_runner(request).get, user.tid, job_id)
    return page(request, "fragments/job.html", user, job=job_view(state))


@router.post("/jobs/{job_id}/cancel")
async def cancel_job(request: Request, user: WritePost, job_id: JobId) -> Response:
    """Ask a queued or running job to stop (write scope); 409 when it has ended."""
    await run_in_threadpool(_runner(request).cancel, user.tid, job_id)
    if "hx-request" in request.headers:
        state = await run_in_threadpool(_runner(request).get, user.tid, job_id)
        return page(request, "fragments/job.html", user, job=job_view(state))
    return redirect(f"{PREFIX}/jobs?job={quote(job_id, safe='')}")
