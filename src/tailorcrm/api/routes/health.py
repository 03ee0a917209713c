"""Liveness, readiness and Prometheus metrics (no API key needed)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from tailorcrm.api.deps import CacheDep, StoreDep
from tailorcrm.api.errors import error_body
from tailorcrm.errors import StorageError

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@router.get("/readyz", responses={503: {"description": "The database is unreachable, or "
                                                  "every model load of this process failed."}})
def readyz(store: StoreDep, cache: CacheDep) -> Any:
    """The process can reach its database and serve its tenants' models.

    Not ready (503) when the database is unreachable or when models were loaded and every
    load failed; when only some tenants' models fail, it stays ready (the others are served)
    and names those tenants under ``degraded``.
    """
    try:
        store.ping()
    except StorageError as exc:
        return JSONResponse(error_body("storage_error", exc.message), status_code=503)
    failures = cache.failures
    if not cache.healthy:
        return JSONResponse(error_body("storage_error", "every model load failed",
                                       tenants=failures), status_code=503)
    body: dict[str, Any] = {"status": "ready", "database": store.backend}
    if failures:
        body["degraded"] = failures
    return body


@router.get("/metrics", response_class=Response)
def metrics(request: Request) -> Response:
    """Request counts and latencies in the Prometheus text format."""
    body = generate_latest(request.app.state.metrics.registry)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
