"""The one error taxonomy of tailorcrm; the API and the CLI each map it in one place."""

from __future__ import annotations

from typing import Any


class TailorCRMError(Exception):
    """Base of every error tailorcrm raises on purpose.

    Attributes
    ----------
    code:
        A stable, machine-readable code (``snake_case``) used in API error bodies.
    http_status:
        The HTTP status the API answers with.
    exit_code:
        The process exit code the CLI ends with.
    details:
        Extra machine-readable context (row, field, reason, ...).
    """

    code = "tailorcrm_error"
    http_status = 500
    exit_code = 1

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details: dict[str, Any] = details

    def to_dict(self) -> dict[str, Any]:
        """The one JSON error shape: ``{"error": {"code", "message", "details"}}``."""
        return {"error": {"code": self.code, "message": self.message, "details": self.details}}


class ConfigError(TailorCRMError):
    """Settings, mapping files, model or strategy configs that are invalid."""

    code = "config_error"
    http_status = 400
    exit_code = 2


class ValidationError(TailorCRMError):
    """Input data that breaks the schema; ``details`` names row, field and reason."""

    code = "validation_error"
    http_status = 422
    exit_code = 3


class NotFoundError(TailorCRMError):
    """A tenant, customer, item, model, rule or job that does not exist."""

    code = "not_found"
    http_status = 404
    exit_code = 4


class ConflictError(TailorCRMError):
    """A change that conflicts with what is stored (duplicate name, data that would break)."""

    code = "conflict"
    http_status = 409
    exit_code = 5


class AuthenticationError(TailorCRMError):
    """A missing, unknown or revoked API key."""

    code = "unauthenticated"
    http_status = 401
    exit_code = 6


class RateLimitedError(TailorCRMError):
    """Too many requests of one kind from one caller (failed authentications, ...).

    ``details["retry_after"]`` says in how many seconds to try again.
    """

    code = "rate_limited"
    http_status = 429
    exit_code = 13


class PermissionDeniedError(TailorCRMError):
    """A valid key without the scope the action needs."""

    code = "forbidden"
    http_status = 403
    exit_code = 7


class NotFittedError(TailorCRMError):
    """A model used before ``fit``, or a tenant with no trained model yet."""

    code = "not_fitted"
    http_status = 409
    exit_code = 8


class InsufficientDataError(TailorCRMError):
    """Too little data to train or evaluate (too few positives, no future window, ...)."""

    code = "insufficient_data"
    http_status = 422
    exit_code = 9


class RuleError(TailorCRMError):
    """A business-rule expression that does not compile or fails safely at run time."""

    code = "rule_error"
    http_status = 422
    exit_code = 10


class StorageError(TailorCRMError):
    """The database could not be reached or answered with an unexpected error."""

    code = "storage_error"
    http_status = 503
    exit_code = 11


class CancelledError(TailorCRMError):
    """A job stopped because it was asked to (``DELETE /v1/jobs/{id}``, Ctrl-C)."""

    code = "cancelled"
    http_status = 409
    exit_code = 12
