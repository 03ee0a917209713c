"""``tailorcrm privacy``: erase (one id or a file of ids), export, unsuppress, vacuum."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from tailorcrm.cli.common import DbOption, TenantOption, console, handle_errors, open_tenant
from tailorcrm.errors import ValidationError
from tailorcrm.privacy import erasure, suppression
from tailorcrm.privacy.audit import CLI_ACTOR
from tailorcrm.privacy.export import export_customer

app = typer.Typer(help="Privacy: erase, export and unsuppress customers (GDPR, CCPA).",
                  no_args_is_help=True)


@app.callback()
def privacy() -> None:
    """Privacy: erase, export and unsuppress customers (GDPR, CCPA)."""


@app.command("erase")
@handle_errors
def erase(
    customer_id: Annotated[str | None, typer.Argument(help="The customer to erase.")] = None,
    file: Annotated[Path | None, typer.Option(
        "--file", exists=True, dir_okay=False,
        help="A file of customer ids, one per line ('#' comments), to erase in one go.")] = None,
    vacuum: Annotated[bool, typer.Option(
        "--vacuum", help="Then run a full VACUUM (rewrites the database files).")] = False,
    db: DbOption = None,
    tenant: TenantOption = None,
) -> None:
    """Erase customers everywhere: rows, quarantined copies, precomputed results, the id in
    model artifacts; suppress the ids and audit each erasure (no personal data kept)."""
    if (customer_id is None) == (file is None):
        raise ValidationError("give a customer id or --file, not both")
    ids = erasure.read_id_file(file) if file is not None else [str(customer_id)]
    with open_tenant(db, tenant) as (store, tid):
        if customer_id is not None and not vacuum:
            receipt = erasure.erase(store, tid, customer_id, CLI_ACTOR, via="cli")
            console.print(f"erased: {sum(receipt.removed.values())} rows "
                          f"({_counts(receipt.removed)}), {receipt.artifacts} artifact ids; "
                          f"audit entry {receipt.audit_id}")
            return
        done = erasure.erase_many(store, tid, ids, CLI_ACTOR, via="cli", vacuum=vacuum)
    console.print(f"erased {done.erased} customer(s); {done.not_found} not found; "
                  f"{done.reclaimed}")


@app.command("export")
@handle_errors
def export(
    customer_id: Annotated[str, typer.Argument(help="The customer to export.")],
    out: Annotated[Path | None, typer.Option(
        "--out", "-o", dir_okay=False, help="Write the JSON here (default: print it).")] = None,
    db: DbOption = None,
    tenant: TenantOption = None,
) -> None:
    """Everything held about a customer, as JSON with a manifest (GDPR Art. 15 and 20)."""
    with open_tenant(db, tenant) as (store, tid):
        body = json.dumps(export_customer(store, tid, customer_id, CLI_ACTOR), indent=2,
                          ensure_ascii=False)
    if out is None:
        typer.echo(body)
        return
    out.write_text(body + "\n", encoding="utf-8")
    console.print(f"wrote {out}")


@app.command("unsuppress")
@handle_errors
def unsuppress(
    customer_id: Annotated[str, typer.Argument(help="The erased id to accept again.")],
    db: DbOption = None,
    tenant: TenantOption = None,
) -> None:
    """Lift an erased id's suppression: imports, upserts and events accept it again."""
    with open_tenant(db, tenant) as (store, tid):
        audit_id = suppression.lift(store, tid, customer_id, CLI_ACTOR)
    console.print(f"suppression lifted; audit entry {audit_id}")


@app.command("vacuum")
@handle_errors
def vacuum(
    full: Annotated[bool, typer.Option(
        "--full", help="SQLite VACUUM / PostgreSQL VACUUM FULL: rewrite the files (locks).")
    ] = False,
    db: DbOption = None,
    tenant: TenantOption = None,
) -> None:
    """Reclaim the space of erased rows (SQLite: WAL checkpoint; PostgreSQL: VACUUM)."""
    with open_tenant(db, tenant) as (store, tid):
        done = erasure.reclaim(store, tid, CLI_ACTOR, full=full)
    console.print(done)


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in counts.items() if v)
