"""Per-tenant secrets: made with the tenant, given to tenants older than them by the migration
(or on first use), and keys derived per purpose differ between tenants (both backends)."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import insert, select, update

from tailorcrm.errors import NotFoundError
from tailorcrm.store import Store
from tailorcrm.store.migrate import upgrade
from tailorcrm.store.tables import Tenant


def test_migration_gives_existing_tenants_a_secret(database_url: str) -> None:
    store = Store.open(database_url, migrate=False)
    try:
        upgrade(store.engine, "0002")
        with store.engine.begin() as conn:  # a tenant made before secrets existed
            conn.execute(insert(Tenant.__table__).values(id=7, slug="old", name="old",
                                                         created_at=dt.datetime.now(dt.UTC)))
        upgrade(store.engine)
        with store.engine.connect() as conn:
            secret = conn.execute(select(Tenant.secret).where(Tenant.id == 7)).scalar_one()
        assert secret is not None and len(bytes.fromhex(secret)) == 32
        assert store.tenants.key(7, "p") != store.tenants.key(store.tenants.create("new"), "p")
    finally:
        store.close()


def test_keys_are_per_tenant_per_purpose_and_made_lazily(database_url: str) -> None:
    with Store.open(database_url) as store:
        a, b = store.tenants.create("a"), store.tenants.create("b")
        with store.engine.begin() as conn:
            conn.execute(update(Tenant).where(Tenant.id == b).values(secret=None))
        assert store.tenants.key(a, "x") != store.tenants.key(a, "y")
        assert store.tenants.key(b, "x") not in (store.tenants.key(a, "x"), b"")
        with Store.open(database_url) as other:  # another process derives the same key
            assert other.tenants.key(b, "x") == store.tenants.key(b, "x")
        with pytest.raises(NotFoundError):
            store.tenants.key(999, "x")
