"""OpenAPI declarations of the error answers routes give, in the one error shape."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

DESCRIPTIONS = {
    404: "Not found (or not this tenant's).",
    409: "Conflicts with the current state (see ``error.details``).",
}


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
