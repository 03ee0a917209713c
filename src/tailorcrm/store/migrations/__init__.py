"""Alembic migrations of the data store (run by ``tailorcrm.store.migrate``)."""
