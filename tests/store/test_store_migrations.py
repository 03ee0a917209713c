"""The Alembic revisions build exactly the tables of ``store/tables.py``, on both backends."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from tailorcrm.schema.fields import FieldSpec
from tailorcrm.store import Store
from tailorcrm.store.migrate import include_object
from tailorcrm.store.tables import Base


@pytest.mark.filterwarnings("ignore:Skipped unsupported reflection")
def test_migrations_match_the_table_definitions(database_url: str) -> None:
    with Store.open(database_url) as store:
        tid = store.tenants.ensure("acme")
        # run-time expression indexes are not drift
        store.fields.add(tid, FieldSpec(entity="item", name="brand", type="string",
                                        indexed=True))
        with store.engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={
                "compare_type": True, "include_object": include_object})
            diff = compare_metadata(ctx, Base.metadata)
    assert diff == [], f"tables.py and the migrations differ; add a revision: {diff}"
