"""The experiments pages: the list, one experiment's results, and stopping (promoting) one."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Form, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from tailorcrm.console.auth import PREFIX, AdminPost, Viewer
from tailorcrm.console.render import page, redirect
from tailorcrm.console.views.experiments import experiment_page, experiments_page
from tailorcrm.experiments.promote import stop_experiment
from tailorcrm.experiments.serving import experiments_of
from tailorcrm.privacy.audit import key_actor

router = APIRouter(prefix=PREFIX, include_in_schema=False)
Name = Annotated[str, Query(max_length=100)]


@router.get("/experiments")
async def experiments_list(request: Request, user: Viewer) -> Response:
    """The tenant's experiments: status, placement, variants, exposures, winner."""
    rows = await run_in_threadpool(experiments_page, request.app.state.store, user.tid)
    return page(request, "experiments.html", user, active="experiments", rows=rows)


@router.get("/experiments/{name}")
async def experiment_detail(request: Request, user: Viewer, name: str,
                            view: str = Query("last_touch", max_length=20),
                            stopped: int = 0) -> Response:
    """One experiment's results in the last-touch or any-exposure view."""
    request.app.state.exposures.flush()
    data = await run_in_threadpool(experiment_page, request.app.state.store, user.tid,
                                   name[:100], view)
    flash = "The experiment is stopped." if stopped else None
    return page(request, "experiment.html", user, active="experiments", flash=flash, **data)


@router.post("/experiments/{name}/stop")
async def experiment_stop(request: Request, user: AdminPost, name: str,
                          promote: Annotated[str, Form()] = "",
                          winner: Annotated[str, Form(max_length=100)] = "") -> Response:
    """Stop the experiment; ``promote`` also copies the winner to the placement (admin)."""
    store = request.app.state.store
    await run_in_threadpool(stop_experiment, store, user.tid, name[:100],
                            key_actor(user.key_id), promote=promote == "1",
                            winner=winner or None)
    experiments_of(request.app.state.cache, store).forget(user.tid)
    request.app.state.cache.touch(user.tid)
    return redirect(f"{PREFIX}/experiments/{quote(name[:100], safe='')}?stopped=1")
