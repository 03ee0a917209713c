"""``tailorcrm import {customers,items,events} FILE``: load a file through a mapping."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table

from tailorcrm.cli.common import (
    DbOption,
    TenantOption,
    console,
    handle_errors,
    load_settings,
    open_tenant,
)
from tailorcrm.errors import ValidationError
from tailorcrm.ingest.mapping import ImportEntity, load_mapping
from tailorcrm.ingest.quality import QualityReport
from tailorcrm.ingest.quarantine import export_quarantine
from tailorcrm.ingest.service import ImportResult, run_import

app = typer.Typer(help="Import customers, items or events from CSV (or .gz), JSONL or Parquet.",
                  no_args_is_help=True)

FileArg = Annotated[Path, typer.Argument(help="CSV (plain or .gz), JSONL or Parquet file.",
                                         show_default=False)]
MappingOption = Annotated[str | None, typer.Option(
    "--mapping", "-m", help="Mapping TOML file, or the name of a shipped mapping "
    "(e.g. online-retail). Default: columns named like tailorcrm fields.")]
QuarantineOption = Annotated[Path | None, typer.Option(
    "--quarantine-out", help="Write this import's rejected rows here (.csv or .jsonl).")]
ReportOption = Annotated[Path | None, typer.Option(
    "--report-json", help="Write the data-quality report here as JSON.")]


def print_report(report: QualityReport, import_id: int) -> None:
    """The data-quality report as Rich tables: counts, errors by field, warnings."""
    counts = Table(title=f"import {import_id}: {report.entity} from {Path(report.source).name} "
                   f"(mapping {report.mapping})")
    counts.add_column("rows", justify="left")
    counts.add_column("count", justify="right")
    for label, value in (("read", report.rows_read), ("loaded", report.rows_loaded),
                         ("duplicate (changed nothing)", report.rows_duplicate),
                         ("rejected (quarantined)", report.rows_rejected),
                         ("customers created", report.customers_created),
                         ("items created", report.items_created),
                         ("anonymous", report.anonymous_rows), ("returns", report.return_rows)):
        counts.add_row(label, f"{value:,}")
    counts.add_row("rows per second", f"{report.rows_per_second:,.0f}")
    console.print(counts)
    if report.errors_by_field:
        errors = Table(title="rejected rows by field and reason")
        errors.add_column("field")
        errors.add_column("errors", justify="right")
        for name, n in report.errors_by_field.items():
            errors.add_row(name, f"{n:,}")
        console.print(errors)
        for reason, n in report.errors_by_reason.items():
            console.print(f"  {n:>8,}  {reason}")
    for finding in report.warnings:
        console.print(f"[yellow]warning[/] {finding.message}\n  [dim]→ {finding.recommendation}")


def _import(entity: ImportEntity, file: Path, mapping: str | None, db: str | None,
            tenant: str | None, quarantine_out: Path | None, report_json: Path | None) -> None:
    settings = load_settings(db=db, tenant=tenant)
    chosen = load_mapping(mapping) if mapping else None
    with open_tenant(db, tenant, create=True) as (store, tid):
        size = file.stat().st_size if file.is_file() else 0
        columns = (TextColumn("[bold]{task.description}"), BarColumn(), DownloadColumn(),
                   TransferSpeedColumn(), TimeRemainingColumn())
        with Progress(*columns, console=console, transient=True) as progress:
            task = progress.add_task(f"importing {file.name}", total=size or None)
            result: ImportResult = run_import(
                store, tid, entity, file, chosen, chunk_rows=settings.import_chunk_rows,
                on_progress=lambda done: progress.update(task, completed=done))
        print_report(result.report, result.import_id)
        if quarantine_out is not None:
            n = export_quarantine(store, tid, quarantine_out, result.import_id)
            console.print(f"{n:,} quarantined problems written to {quarantine_out}")
        if report_json is not None:
            body = {"import_id": result.import_id, **result.report.as_dict()}
            report_json.write_text(json.dumps(body, indent=2, ensure_ascii=False),
                                   encoding="utf-8")
            console.print(f"report written to {report_json}")
        report = result.report
        if report.rows_read and not (report.rows_loaded or report.rows_duplicate):
            first = store.imports.quarantine(tid, result.import_id, limit=5)
            for q in first:
                console.print(f"  row {q.row_number}, field {q.field!r}: {q.reason}")
            reason = f"; first: row {first[0].row_number}, field {first[0].field!r}: " \
                     f"{first[0].reason}" if first else ""
            raise ValidationError(f"no row of {file.name} was loaded: all "
                                  f"{report.rows_rejected:,} rows were rejected{reason}",
                                  import_id=result.import_id)


@app.command("customers")
@handle_errors
def customers(file: FileArg, mapping: MappingOption = None, tenant: TenantOption = None,
              db: DbOption = None, quarantine_out: QuarantineOption = None,
              report_json: ReportOption = None) -> None:
    """Import customers (one row per customer; attributes merge into stored ones)."""
    _import("customers", file, mapping, db, tenant, quarantine_out, report_json)


@app.command("items")
@handle_errors
def items(file: FileArg, mapping: MappingOption = None, tenant: TenantOption = None,
          db: DbOption = None, quarantine_out: QuarantineOption = None,
          report_json: ReportOption = None) -> None:
    """Import items (products, services, content)."""
    _import("items", file, mapping, db, tenant, quarantine_out, report_json)


@app.command("events")
@handle_errors
def events(file: FileArg, mapping: MappingOption = None, tenant: TenantOption = None,
           db: DbOption = None, quarantine_out: QuarantineOption = None,
           report_json: ReportOption = None) -> None:
    """Import events (interactions); may create the customers and items they reference."""
    _import("events", file, mapping, db, tenant, quarantine_out, report_json)
