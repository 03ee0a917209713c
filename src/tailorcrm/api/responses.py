"""OpenAPI declarations of the error answers routes give, in the one error shape."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

DESCRIPTIONS = {
    401: "Missing or invalid API key.",
    403: "The API key lacks the scope this route needs.",
    404: "Not found (or not this tenant's).",
    409: "Conflicts with the current state (see ``error.details``).",
    413: "The request body is larger than the server accepts.",
    422: "Invalid request, or values the tenant's schema refuses (``error.details`` names "
         "each row, field and reason).",
    429: "Too many requests (failed authentications, rule budget); see ``Retry-After``.",
    503: "Temporarily unavailable (a model that cannot load, the database); see "
         "``Retry-After``.",
}
AUTHENTICATED = (401, 403, 422, 429)
"""What every route behind an API key may answer."""


class ErrorDetail(BaseModel):
    """What went wrong: a stable code, a message, machine-readable details."""

    code: str
    message: str
    details: dict[str, Any]


class ErrorPublic(BaseModel):
    """The one error shape: ``{"error": {code, message, details}}``."""

    error: ErrorDetail


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for a route that answers ``statuses`` in the error shape."""
    return {s: {"model": ErrorPublic, "description": DESCRIPTIONS.get(s, "Error.")}
            for s in statuses}
