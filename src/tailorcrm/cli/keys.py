"""``tailorcrm keys``: create, list and revoke a tenant's API keys."""

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
        store.keys.revoke(key_id, tid=tid)
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
