"""The database's own exception types, for callers that map them without importing SQLAlchemy.

tailorcrm code raises :mod:`tailorcrm.errors`; these are what the driver raises underneath,
named here so the API and CLI can translate them in one place each.
"""

from __future__ import annotations

from sqlalchemy.exc import DataError as DataError
from sqlalchemy.exc import SQLAlchemyError as DatabaseError

__all__ = ["DataError", "DatabaseError"]
