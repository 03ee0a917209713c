"""``tailorcrm keys``: create, list and revoke a tenant's API keys.

Creating and revoking a key append ``key.create`` / ``key.revoke`` to the tenant's audit log
(actor ``cli``; the key id and scopes, never the secret).
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from tailorcrm.cli.common import (
    DbOption,
    TenantOption,
    console,
    handle_errors,
    open_store,
    open_tenant,
)
from tailorcrm.privacy.admin_audit import KEY_CREATE, KEY_REVOKE, audit_key
from tailorcrm.privacy.audit import CLI_ACTOR
from tailorcrm.store import Store
from tailorcrm.store.keys import SCOPES

app = typer.Typer(help="API keys per tenant, with scopes read, write and admin.",
                  no_args_is_help=True)


@app.command("create")
@handle_errors
def create(
    scope: Annotated[list[str], typer.Option(
        "--scope", help=f"A scope ({', '.join(SCOPES)}); repeat for several.")],
    name: Annotated[str, typer.Option(help="What the key is for.")] = "",
    db: DbOption = None,
    tenant: TenantOption = None,
) -> None:
    """Create a key and print its secret (shown this once; only a hash is stored)."""
    with open_tenant(db, tenant) as (store, tid):
        key_id, secret = store.keys.create(tid, scope, name)
        audit_key(store, tid, CLI_ACTOR, KEY_CREATE, key_id, via="cli", scopes=scope)
    console.print(f"key id: [bold]{key_id}[/]  scopes: {', '.join(scope)}")
    console.print("secret (shown once, store it now):")
    typer.echo(secret)  # plain, unwrapped: easy to copy or capture in a script


@app.command("revoke")
@handle_errors
def revoke(
    key_id: Annotated[str, typer.Argument(help="The key id shown by `keys create`/`keys list`.")],
    db: DbOption = None,
    tenant: Annotated[str | None, typer.Option(
        "--tenant", help="Only revoke if the key belongs to this tenant.")] = None,
) -> None:
    """Revoke a key: running servers refuse it within 2 s (their key cache TTL)."""
    with open_store(db) as store:
        tid = None if tenant is None else store.tenants.id_of(tenant)
        owner = tid if tid is not None else _owner(store, key_id)
        store.keys.revoke(key_id, tid=tid)
        if owner is not None:
            audit_key(store, owner, CLI_ACTOR, KEY_REVOKE, key_id, via="cli")
    console.print(f"revoked key [bold]{key_id}[/]")


@app.command("list")
@handle_errors
def list_(db: DbOption = None, tenant: TenantOption = None) -> None:
    """List the tenant's keys (never their secrets)."""
    with open_tenant(db, tenant) as (store, tid):
        keys = store.keys.list(tid)
    table = Table()
    table.add_column("key id", no_wrap=True)
    for column in ("name", "scopes", "created", "revoked"):
        table.add_column(column)
    for k in keys:
        table.add_row(k.key_id, k.name, ",".join(k.scopes),
                      k.created_at.isoformat(timespec="seconds") if k.created_at else "",
                      k.revoked_at.isoformat(timespec="seconds") if k.revoked_at else "")
    console.print(table)


def _owner(store: Store, key_id: str) -> int | None:
    """The id of the tenant that holds key ``key_id`` (None when no tenant does)."""
    for tenant in store.tenants.list():
        if any(k.key_id == key_id for k in store.keys.list(tenant.id)):
            return tenant.id
    return None
