"""``tailorcrm needs report|segment``: the needs analysis report and stored segments."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from tailorcrm.cli.common import DbOption, TenantOption, console, handle_errors, open_tenant
from tailorcrm.needs.report import ReportConfig
from tailorcrm.needs.segments import SegmentationConfig

OutOption = Annotated[Path, typer.Option("--out", help="HTML report to write.", dir_okay=False)]
JsonOption = Annotated[Path | None, typer.Option(
    "--json", help="Also write the report's figures as JSON.", dir_okay=False)]
KMaxOption = Annotated[int, typer.Option("--k-max", min=2, help="Most segments to try.")]
CsvOption = Annotated[Path | None, typer.Option(
    "--csv", help="Customers to act on first, every need, as CSV (default: beside the "
    "report, <out>-act-first.csv).", dir_okay=False)]
SaveOption = Annotated[bool, typer.Option(
    "--save-segments/--no-save-segments",
    help="Store the RFM and behavioural segments it computes.")]


def report_command(
    out: OutOption = Path("needs-report.html"),
    json_path: JsonOption = None,
    csv_path: CsvOption = None,
    k_max: KMaxOption = 8,
    save_segments: SaveOption = True,
    db: DbOption = None,
    tenant: TenantOption = None,
) -> None:
    """Write the needs report: need rates, RFM grid, behavioural segments, model quality,
    and per need its top drivers and the customers to act on first (also as CSV)."""
    from tailorcrm.needs.analysis_store import tenant_report
    from tailorcrm.needs.report import write_report

    cfg = ReportConfig(segmentation=SegmentationConfig(k_max=k_max))
    with open_tenant(db, tenant) as (store, tid):
        report = tenant_report(store, tid, store.tenants.slug_of(tid), config=cfg,
                               save_segments=save_segments)
    csv_out = csv_path or out.with_name(f"{out.stem}-act-first.csv")
    write_report(report, str(out), str(json_path) if json_path else None, str(csv_out))
    console.print(f"wrote {out}, {csv_out}" + (f" and {json_path}" if json_path else "")
                  + f": {len(report.needs)} needs, "
                  + f"{len(report.segmentations)} behavioural segmentation(s)")
    for note in report.notes:
        console.print(f"[dim]note: {note}[/]")


def segment_command(
    k_max: KMaxOption = 8,
    db: DbOption = None,
    tenant: TenantOption = None,
) -> None:
    """Compute and store RFM and behavioural segments; print each segment's profile."""
    from tailorcrm.needs.analysis_store import save_rfm, save_segmentation
    from tailorcrm.needs.rfm import SEGMENT_LABELS, rfm_summary, rfm_table
    from tailorcrm.needs.segments import behavioural_segments

    with open_tenant(db, tenant) as (store, tid):
        data = store.load_dataset(tid)
        table = rfm_table(data)
        save_rfm(store, tid, table)
        seg = behavioural_segments(data, config=SegmentationConfig(k_max=k_max))
        save_segmentation(store, tid, seg)
    rfm = Table(title="RFM segments")
    for col in ("segment", "customers", "share"):
        rfm.add_column(col, justify="left" if col == "segment" else "right")
    for s in rfm_summary(table).segments:
        rfm.add_row(SEGMENT_LABELS.get(s.segment, s.segment), f"{s.n:,}", f"{s.share:.1%}")
    console.print(rfm)
    beh = Table(title=f"Behavioural segments (k={seg.profile.k}, by silhouette)")
    for col in ("segment", "customers", "what sets it apart"):
        beh.add_column(col, justify="right" if col == "customers" else "left")
    for p in seg.profile.segments:
        beh.add_row(p.segment, f"{p.n:,}", p.description)
    console.print(beh)


def register(app: typer.Typer) -> None:
    """Attach ``report`` and ``segment`` to the ``needs`` group."""
    app.command("report")(handle_errors(report_command))
    app.command("segment")(handle_errors(segment_command))
