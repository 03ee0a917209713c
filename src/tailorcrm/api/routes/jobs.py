"""Background jobs: start a training run, follow its progress."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Path
from pydantic import BaseModel, ConfigDict

from tailorcrm.api.deps import JobsDep, Reader, Writer
from tailorcrm.jobs.train import TrainConfig
from tailorcrm.serving.jobs import JobState

router = APIRouter(tags=["jobs"])


class TrainCreate(BaseModel):
    """Which steps the training run does."""

    model_config = ConfigDict(extra="forbid")

    recommend: bool = True
    precompute: bool = True
    needs: bool = True
    segments: bool = True


@router.post("/v1/jobs/train", response_model=JobState, status_code=202)
def start_training(principal: Writer, jobs: JobsDep, body: TrainCreate | None = None) -> Any:
    """Train the tenant's recommender (precomputing lists), needs and segments in the
    background; the new model serves as soon as it is activated."""
    config = TrainConfig(**(body or TrainCreate()).model_dump())
    return jobs.submit_train(principal.tid, config)


@router.get("/v1/jobs/{job_id}", response_model=JobState)
def get_job(principal: Reader, jobs: JobsDep,
            job_id: str = Path(min_length=1, max_length=64)) -> Any:
    """A job's status and progress (``step``, ``done`` of ``total``) and, once done, its
    result or error."""
    return jobs.get(principal.tid, job_id)
