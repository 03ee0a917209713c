"""``tailorcrm retention run``: delete a tenant's events older than its retention period."""

from __future__ import annotations

from typing import Annotated

import typer

from tailorcrm.cli.common import DbOption, TenantOption, console, handle_errors, open_tenant
from tailorcrm.privacy.audit import CLI_ACTOR
from tailorcrm.privacy.retention import apply_retention

app = typer.Typer(help="Retention: delete events older than the tenant's retention_days.",
                  no_args_is_help=True)


@app.callback()
def retention() -> None:
    """Retention: delete events older than the tenant's retention_days."""


@app.command("run")
@handle_errors
def run(
    dry_run: Annotated[bool, typer.Option(
        "--dry-run", help="Only count the events that would be deleted.")] = False,
    db: DbOption = None,
    tenant: TenantOption = None,
) -> None:
    """Delete the events older than the tenant's retention_days setting, with an audit entry
    (counts only). Unset (the default), every event is kept and nothing is deleted."""
    with open_tenant(db, tenant) as (store, tid):
        outcome = apply_retention(store, tid, CLI_ACTOR, dry_run=dry_run)
    if dry_run and outcome.days is not None:
        console.print(f"retention {outcome.days} days: {outcome.deleted} event(s) older than "
                      f"{outcome.cutoff:%Y-%m-%d %H:%M:%S} UTC would be deleted")
        return
    console.print(outcome.describe())
