"""``tailorcrm tenants``: create and list the organizations in the database."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from tailorcrm.cli.common import DbOption, console, handle_errors, open_store

app = typer.Typer(help="Tenants: the organizations using tailorcrm.", no_args_is_help=True)


@app.command("create")
@handle_errors
def create(
    slug: Annotated[str, typer.Argument(help="Short id: lower-case letters, digits, _ or -.")],
    name: Annotated[str, typer.Option(help="Display name.")] = "",
    db: DbOption = None,
) -> None:
    """Create a tenant with the default event-type catalog."""
    with open_store(db) as store:
        tid = store.tenants.create(slug, name)
    console.print(f"created tenant [bold]{slug}[/] (id {tid})")


@app.command("list")
@handle_errors
def list_(db: DbOption = None) -> None:
    """List every tenant."""
    with open_store(db) as store:
        tenants = store.tenants.list()
    table = Table()
    for column in ("id", "slug"):
        table.add_column(column, no_wrap=True)
    for column in ("name", "created"):
        table.add_column(column)
    for t in tenants:
        table.add_row(str(t.id), t.slug, t.name,
                      t.created_at.isoformat(timespec="seconds") if t.created_at else "")
    console.print(table)
