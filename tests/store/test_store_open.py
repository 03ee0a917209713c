"""Opening a store: migrations to head, tenant creation with its catalog, an empty data set."""

from __future__ import annotations

from sqlalchemy import inspect

from tailorcrm.schema.event_types import DEFAULT_EVENT_TYPES
from tailorcrm.store import Store
from tailorcrm.store.migrate import current_revision, head_revision


def test_open_migrates_to_head_and_twice_is_harmless(database_url: str) -> None:
    with Store.open(database_url) as store:
        assert current_revision(store.engine) == head_revision()
        tid = store.tenants.ensure("acme")
    with Store.open(database_url) as store:
        assert current_revision(store.engine) == head_revision()
        assert store.tenants.ensure("acme") == tid
        tables = set(inspect(store.engine).get_table_names())
    assert {"tenants", "customers", "items", "events", "model_versions"} <= tables


def test_ensure_seeds_default_event_types(database_url: str) -> None:
    with Store.open(database_url) as store:
        tid = store.tenants.ensure("acme")
        assert store.event_types.list(tid) == list(DEFAULT_EVENT_TYPES)
        other = store.tenants.ensure("other")
        assert other != tid
        assert [t.slug for t in store.tenants.list()] == ["acme", "other"]


def test_empty_tenant_loads_an_empty_dataset(database_url: str) -> None:
    with Store.open(database_url) as store:
        data = store.load_dataset(store.tenants.ensure("acme"))
    assert len(data.customers) == 0 and len(data.items) == 0 and len(data.events) == 0
    assert str(data.events["ts"].dtype) == "datetime64[ns, UTC]"
