"""Experiments: A/B tests of strategies and action catalogs, their results, stop and promote."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from tailorcrm.api.deps import Admin, CacheDep, Reader, StoreDep
from tailorcrm.api.responses import AUTHENTICATED, error_responses
from tailorcrm.api.routes.privacy import Actor
from tailorcrm.errors import ValidationError
from tailorcrm.experiments.config import EXPERIMENT_KIND, load_experiment
from tailorcrm.experiments.manage import (
    ExperimentInfo,
    experiment_results,
    list_experiments,
    save_experiment,
)
from tailorcrm.experiments.promote import Stopped, stop_experiment
from tailorcrm.experiments.report import ExperimentResults
from tailorcrm.experiments.serving import experiments_of
from tailorcrm.privacy.admin_audit import audit_config

router = APIRouter(tags=["experiments"],
                   responses=error_responses(*AUTHENTICATED, 404, 409, 413))

Name = Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")


class ExperimentPublic(BaseModel):
    """One stored experiment: its name, newest version and body."""

    name: str
    version: int
    body: dict[str, Any]


class ExperimentsPublic(BaseModel):
    """The tenant's experiments."""

    experiments: list[ExperimentInfo]


class StopCreate(BaseModel):
    """Stop an experiment; ``promote`` makes the winner what the placement serves."""

    model_config = ConfigDict(extra="forbid")

    promote: bool = False
    winner: str | None = Field(None, max_length=100,
                               description="The variant to promote (default: the report's "
                                           "significant winner).")


@router.get("/v1/experiments", response_model=ExperimentsPublic)
def get_experiments(principal: Reader, store: StoreDep) -> Any:
    """The tenant's experiments with their status and exposures so far."""
    return ExperimentsPublic(experiments=list_experiments(store, principal.tid))


@router.get("/v1/experiments/{name}", response_model=ExperimentPublic)
def get_experiment(principal: Reader, store: StoreDep, name: str = Name,
                   version: int | None = Query(None, ge=1)) -> Any:
    """A stored experiment (newest version, or ``version``)."""
    exp = load_experiment(store.configs, principal.tid, name, version)
    versions = store.configs.versions(principal.tid, EXPERIMENT_KIND, name)
    return ExperimentPublic(name=name, version=version or versions[-1],
                            body=exp.model_dump(mode="json"))


@router.put("/v1/experiments/{name}", response_model=ExperimentPublic)
def put_experiment(principal: Admin, actor: Actor, store: StoreDep, cache: CacheDep,
                   body: dict[str, Any], name: str = Name) -> Any:
    """Check and store an experiment as its next version (serving picks it up at once here,
    within a second on other workers)."""
    if body.setdefault("name", name) != name:
        raise ValidationError("the body's name differs from the path's", field="name")
    version = save_experiment(store, principal.tid, body)
    audit_config(store, principal.tid, actor, EXPERIMENT_KIND, name, version)
    experiments_of(cache, store).forget(principal.tid)
    saved = load_experiment(store.configs, principal.tid, name, version)
    return ExperimentPublic(name=name, version=version, body=saved.model_dump(mode="json"))


@router.get("/v1/experiments/{name}/results", response_model=ExperimentResults)
def get_results(request: Request, principal: Reader, store: StoreDep,
                name: str = Name) -> Any:
    """Per variant: exposures, customers, every metric with its 95 % interval and its
    difference to the control (two-proportion z test for rates, Welch's t for revenue), in
    the last-touch and any-exposure views; the sample-ratio check and the power warning."""
    request.app.state.exposures.flush()  # this worker's buffered exposures count too
    return experiment_results(store, principal.tid, name)


@router.post("/v1/experiments/{name}/stop", response_model=Stopped)
def post_stop(request: Request, principal: Admin, actor: Actor, store: StoreDep,
              cache: CacheDep, body: StopCreate, name: str = Name) -> Any:
    """Stop the experiment (and with ``promote``, copy the winner's strategy or catalog to
    the placement's name); audited as ``experiment.stop``."""
    request.app.state.exposures.flush()
    done = stop_experiment(store, principal.tid, name, actor, promote=body.promote,
                           winner=body.winner)
    experiments_of(cache, store).forget(principal.tid)
    cache.touch(principal.tid)  # a promoted strategy is served from the next request
    return done
