"""The overview page."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from tailorcrm.console.auth import PREFIX, Viewer
from tailorcrm.console.render import page, redirect
from tailorcrm.console.views.overview import overview

router = APIRouter(prefix=PREFIX, include_in_schema=False)


@router.get("")
async def root() -> Response:
    """``/console`` goes to the overview."""
    return redirect(f"{PREFIX}/", status=307)


@router.get("/")
async def overview_page(request: Request, user: Viewer) -> Response:
    """Customers, items, events over time, last imports, the models in use and their grades."""
    data = await run_in_threadpool(overview, request.app.state.store, user.tid)
    return page(request, "overview.html", user, active="overview", o=data)
