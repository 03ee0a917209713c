"""The data store: tables, migrations and one repository per entity, on SQLite or PostgreSQL."""

from tailorcrm.store.core import Store

__all__ = ["Store"]
