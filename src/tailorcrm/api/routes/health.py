"""Liveness, readiness and Prometheus metrics (no API key needed)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from tailorcrm.api.deps import StoreDep
from tailorcrm.api.errors import error_body

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@router.get("/readyz", responses={503: {"description": "The database is unreachable."}})
def readyz(store: StoreDep) -> Any:
    """The process can reach its database."""
    try:
        with store.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        return JSONResponse(error_body("storage_error", f"database unreachable: {exc}"),
                            status_code=503)
    return {"status": "ready", "database": store.backend}


@router.get("/metrics", response_class=Response)
def metrics(request: Request) -> Response:
    """Request counts and latencies in the Prometheus text format."""
    body = generate_latest(request.app.state.metrics.registry)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
