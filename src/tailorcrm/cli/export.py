"""``tailorcrm export``: marketing exports (a segment with best actions and top items, CSV)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from tailorcrm.cli.common import DbOption, TenantOption, console, handle_errors, open_tenant
from tailorcrm.customize.actions import DEFAULT_CATALOG
from tailorcrm.customize.export import export_segment

app = typer.Typer(help="Marketing exports (consent-aware).", no_args_is_help=True)


@app.command("segment")
@handle_errors
def segment(
    segmentation: Annotated[str, typer.Option(help="Segmentation name, e.g. rfm.")],
    segment_name: Annotated[str, typer.Option("--segment", help="Segment to export.")],
    out: Annotated[Path, typer.Option("--out", help="CSV file to write.")],
    strategy: Annotated[str | None, typer.Option(
        help="Precomputed recommendation lists for the top items.")] = None,
    items: Annotated[int, typer.Option("--items", help="Top items per customer.")] = 5,
    catalog: Annotated[str, typer.Option(help="Action catalog.")] = DEFAULT_CATALOG,
    require_granted: Annotated[bool, typer.Option(
        help="Only customers who granted marketing consent (else: all but denied).")] = False,
    db: DbOption = None,
    tenant: TenantOption = None,
) -> None:
    """Write the members of a segment with their best action and top items to a CSV file.

    Customers who denied marketing consent are never exported; nor are those who denied
    profiling (segment membership is profiling).
    """
    with open_tenant(db, tenant) as (store, tid):
        report = export_segment(store, tid, segmentation, segment_name, out, catalog=catalog,
                                strategy=strategy, n_items=items,
                                require_granted=require_granted)
    console.print(f"wrote {report.exported} of {report.members} members to {out} "
                  f"(left out: {report.consent_denied} consent denied, "
                  f"{report.consent_not_granted} consent not granted, "
                  f"{report.profiling_denied} profiling denied, {report.missing} missing)")
