"""The needs page and its CSV of customers to act on first."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from tailorcrm.console.auth import PREFIX, Viewer
from tailorcrm.console.render import HEADERS, page
from tailorcrm.console.views.needs import act_first_csv, needs_page

router = APIRouter(prefix=PREFIX, include_in_schema=False)


@router.get("/needs")
async def needs(request: Request, user: Viewer) -> Response:
    """Need rates by segment and cut-off month with intervals, the RFM grid, segment
    profiles, model quality vs baseline, top drivers and the customers to act on first."""
    data = await run_in_threadpool(needs_page, request.app.state.store, user.tid, user.tenant)
    return page(request, "needs.html", user, active="needs", **data)


@router.get("/needs/act-first.csv")
async def needs_csv(request: Request, user: Viewer) -> Response:
    """Every need's customers ranked by score × value, as CSV."""
    body = await run_in_threadpool(act_first_csv, request.app.state.store, user.tid,
                                   user.tenant)
    headers = {**HEADERS, "Content-Disposition":
               f'attachment; filename="act-first-{user.tenant}.csv"'}
    return Response(body, media_type="text/csv; charset=utf-8", headers=headers)
