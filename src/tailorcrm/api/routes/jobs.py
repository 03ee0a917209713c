"""Background jobs: start a training run, follow its progress, cancel it."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Path
from pydantic import BaseModel, ConfigDict

from tailorcrm.api.deps import JobsDep, Reader, Writer
from tailorcrm.api.responses import AUTHENTICATED, error_responses
from tailorcrm.jobs.train import TrainConfig
from tailorcrm.serving.jobs import JobState

router = APIRouter(tags=["jobs"],
                   responses=error_responses(*AUTHENTICATED, 404, 409))

JobId = Path(min_length=1, max_length=64)


class TrainCreate(BaseModel):
    """Which steps the training run does (a step switched off is not run at all)."""

    model_config = ConfigDict(extra="forbid")

    recommend: bool = True
    precompute: bool = True
    needs: bool = True
    segments: bool = True
    strategies: bool = True


@router.post("/v1/jobs/train", response_model=JobState, status_code=202,
             responses=error_responses(409))
def start_training(principal: Writer, jobs: JobsDep, body: TrainCreate | None = None) -> Any:
    """Train the tenant's recommender (precomputing lists), needs, segments and stored
    strategies in the background; the new recommender serves once the run has done every
    step. One training job per tenant at a time: while one is queued or running this answers
    409 with its id in ``error.details.job_id``."""
    config = TrainConfig(**(body or TrainCreate()).model_dump())
    return jobs.submit_train(principal.tid, config)


@router.get("/v1/jobs/{job_id}", response_model=JobState, responses=error_responses(404))
def get_job(principal: Reader, jobs: JobsDep, job_id: str = JobId) -> Any:
    """A job's status and progress (``step``, ``done`` of ``total``) and, once done, its
    result or error."""
    return jobs.get(principal.tid, job_id)


@router.delete("/v1/jobs/{job_id}", response_model=JobState, status_code=202,
               responses=error_responses(404, 409))
def cancel_job(principal: Writer, jobs: JobsDep, job_id: str = JobId) -> Any:
    """Cancel a queued or running job: it stops at its next progress step and ends as
    ``cancelled`` without activating anything (poll ``GET /v1/jobs/{id}``); 409 when it has
    ended already."""
    return jobs.cancel(principal.tid, job_id)
