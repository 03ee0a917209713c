"""``tailorcrm audit list``: the tenant's append-only log of admin and privacy actions."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from tailorcrm.cli.common import DbOption, TenantOption, console, handle_errors, open_tenant
from tailorcrm.privacy.audit import list_audit

app = typer.Typer(help="The audit log: admin and privacy actions, key creation and revocation.",
                  no_args_is_help=True)


@app.callback()
def audit() -> None:
    """The audit log: admin and privacy actions, key creation and revocation."""


@app.command("list")
@handle_errors
def list_entries(
    action: Annotated[str | None, typer.Option(
        "--action", help="Only this action, or a prefix ending in '.' (privacy.).")] = None,
    before: Annotated[int | None, typer.Option(
        "--before", help="Entries older than this id (paging).")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=1000)] = 100,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    db: DbOption = None,
    tenant: TenantOption = None,
) -> None:
    """List audit entries, newest first: who (key id or cli), what, when, on what."""
    with open_tenant(db, tenant) as (store, tid):
        entries = list_audit(store, tid, action=action, before_id=before, limit=limit)
    if as_json:
        console.print_json(json.dumps([e.model_dump(mode="json") for e in entries]))
        return
    table = Table("id", "when", "actor", "action", "target", "details")
    for e in entries:
        table.add_row(str(e.id), e.created_at.isoformat(timespec="seconds"), e.actor,
                      e.action, (e.target or "")[:16], json.dumps(e.details, sort_keys=True))
    console.print(table)
