"""Customer pages: search, the customer 360, feedback on a list, export and erasure."""

from __future__ import annotations

from typing import Literal
from urllib.parse import quote

import orjson
from fastapi import APIRouter, Form, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from tailorcrm.api.params import CustomerIdPath, ExternalId
from tailorcrm.console.auth import PREFIX, AdminPage, AdminPost, ConsoleUser, Viewer, WritePost
from tailorcrm.console.render import HEADERS, page, redirect
from tailorcrm.console.views.customer360 import customer_360, recommendation_list
from tailorcrm.errors import ValidationError
from tailorcrm.privacy.audit import key_actor
from tailorcrm.privacy.erasure import erase
from tailorcrm.privacy.export import export_customer
from tailorcrm.serving.feedback import record_feedback

router = APIRouter(prefix=PREFIX, include_in_schema=False)
FLASHES = {"erased": "The customer was erased everywhere; the id is suppressed."}
StrategyName = Query("default", min_length=1, max_length=100,
                     pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")


def _url(customer_id: str) -> str:
    return f"{PREFIX}/customers/{quote(customer_id, safe='')}"


@router.get("/customers")
async def customers_page(request: Request, user: Viewer,
                         q: str = Query("", max_length=255), flash: str = "") -> Response:
    """Find a customer by id (prefix)."""
    store = request.app.state.store
    found = await run_in_threadpool(store.console.find_customers, user.tid, q.strip(),
                                    limit=50)
    return page(request, "customers.html", user, active="customers", q=q, found=found,
                flash=FLASHES.get(flash, ""))


@router.get("/customers/{customer_id}")
async def customer_page(request: Request, user: Viewer,
                        customer_id: CustomerIdPath) -> Response:
    """The customer 360."""
    app = request.app
    data = await run_in_threadpool(customer_360, app.state.store, app.state.cache,
                                   app.state.settings, user.tid, user.tenant, customer_id,
                                   unmasked=user.can("write"))
    return page(request, "customer.html", user, active="customers", c=data,
                url=_url(customer_id))


def _list_fragment(request: Request, user: ConsoleUser, customer_id: str, strategy: str,
                   recorded: str = "") -> Response:
    found = recommendation_list(request.app.state.store, request.app.state.cache, user.tid,
                                customer_id, strategy)
    return page(request, "fragments/rec_list.html", user, rec=found, url=_url(customer_id),
                recorded=recorded)


@router.get("/customers/{customer_id}/recommendations")
async def list_fragment(request: Request, user: Viewer, customer_id: CustomerIdPath,
                        strategy: str = StrategyName) -> Response:
    """One strategy's list for the customer (an htmx fragment)."""
    return await run_in_threadpool(_list_fragment, request, user, customer_id, strategy)


@router.post("/customers/{customer_id}/feedback")
async def feedback(request: Request, user: WritePost, customer_id: CustomerIdPath,
                   recommendation_id: str = Form(min_length=1, max_length=1000),
                   item_id: ExternalId = Form(),
                   outcome: Literal["accepted", "rejected", "clicked", "purchased"] = Form(),
                   strategy: str = Form("default", max_length=100)) -> Response:
    """Record what the customer did with a recommended item, then show the list again."""
    store, cache = request.app.state.store, request.app.state.cache

    def record() -> str:
        # never a write on a record the page did not name: only this customer's lists
        done = record_feedback(store, user.tid, recommendation_id, item_id, outcome,
                               customer_id=customer_id)
        cache.touch(user.tid)  # a rejected item leaves this worker's next list at once
        return f"{outcome} recorded for {item_id}" if done.recorded else "already recorded"

    recorded = await run_in_threadpool(record)
    if "hx-request" not in request.headers:
        return redirect(_url(customer_id))
    return await run_in_threadpool(_list_fragment, request, user, customer_id, strategy,
                                   recorded)


@router.get("/customers/{customer_id}/export")
async def export(request: Request, user: AdminPage, customer_id: CustomerIdPath) -> Response:
    """Everything held about the customer as one JSON document (audited, admin only)."""
    document = await run_in_threadpool(export_customer, request.app.state.store, user.tid,
                                       customer_id, key_actor(user.key_id))
    name = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in customer_id)[:80]
    return Response(orjson.dumps(document, default=str, option=orjson.OPT_INDENT_2),
                    media_type="application/json",
                    headers={**HEADERS,
                             "Content-Disposition": f'attachment; filename="{name}.json"'})


@router.post("/customers/{customer_id}/erase")
async def erase_customer(request: Request, user: AdminPost, customer_id: CustomerIdPath,
                         confirm: str = Form("", max_length=255)) -> Response:
    """Erase the customer everywhere (typing the id confirms it; admin only)."""
    if confirm.strip() != customer_id:
        raise ValidationError("type the customer id to confirm the erasure", field="confirm")
    store, cache = request.app.state.store, request.app.state.cache
    try:
        await run_in_threadpool(erase, store, user.tid, customer_id, key_actor(user.key_id),
                                via="console")
    finally:
        cache.touch(user.tid)
    return redirect(f"{PREFIX}/customers?flash=erased")
