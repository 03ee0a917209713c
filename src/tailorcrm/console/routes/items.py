"""The items pages: search and the most recommended items; one item with its similar items."""

from __future__ import annotations

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from tailorcrm.console.auth import PREFIX, Viewer
from tailorcrm.console.render import page
from tailorcrm.console.views.items import item_page, items_page

router = APIRouter(prefix=PREFIX, include_in_schema=False)


@router.get("/items")
async def items_list(request: Request, user: Viewer,
                     q: str = Query("", max_length=200)) -> Response:
    """Items whose id starts with, or whose title contains, ``q``; the most recommended
    items of each strategy and how many are never recommended."""
    data = await run_in_threadpool(items_page, request.app.state.store, user.tid, q)
    return page(request, "items.html", user, active="items", i=data)


@router.get("/items/{item_id:path}")
async def item_detail(request: Request, user: Viewer, item_id: str) -> Response:
    """One item: its fields, similar items from the served model (with scores), and its
    share of each strategy's precomputed lists."""
    data = await run_in_threadpool(item_page, request.app.state.store, request.app.state.cache,
                                   user.tid, item_id[:255])
    return page(request, "item.html", user, active="items", it=data)
