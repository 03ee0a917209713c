"""``tailorcrm schema``: a tenant's custom fields and event-type catalog."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from tailorcrm.cli.common import DbOption, TenantOption, console, handle_errors, open_tenant
from tailorcrm.errors import ConflictError
from tailorcrm.schema.changes import ChangeReport
from tailorcrm.schema.event_types import EventType
from tailorcrm.schema.fields import FieldSpec, FieldType

app = typer.Typer(help="Per-tenant schema: custom fields and event types.", no_args_is_help=True)
fields_app = typer.Typer(help="Custom fields of customers, items and events.",
                         no_args_is_help=True)
event_types_app = typer.Typer(help="The tenant's event-type catalog.", no_args_is_help=True)
app.add_typer(fields_app, name="fields")
app.add_typer(event_types_app, name="event-types")

EntityOption = Annotated[str, typer.Option("--entity", help="customer, item or event.")]
NameOption = Annotated[str, typer.Option("--name", help="Field name (snake_case).")]


def _show_report(report: ChangeReport) -> None:
    """The what-would-break report: a summary line and a table of broken values."""
    style = "green" if report.ok else "red"
    console.print(f"[{style}]{report.summary()}[/]")
    if report.problems:
        table = Table(title="values that do not fit")
        table.add_column("row id", no_wrap=True)
        table.add_column("stored value", no_wrap=True)
        table.add_column("reason")
        for p in report.problems:
            table.add_row(p.row_id, repr(p.value), p.reason)
        console.print(table)
        if report.n_problems > len(report.problems):
            console.print(f"... and {report.n_problems - len(report.problems)} more")


def _apply(change: Any, spec: FieldSpec, dry_run: bool, force: bool) -> None:
    """Run a field add/change; on broken values show the report and refuse (exit 5)."""
    try:
        report = change(spec, dry_run=dry_run, force=force)
    except ConflictError as exc:
        if "report" not in exc.details:
            raise
        _show_report(ChangeReport.model_validate(exc.details["report"]))
        console.print("refused: fix the values above, or rerun with --force "
                      "(values that do not fit are kept as stored)")
        raise
    _show_report(report)


@fields_app.command("add")
@handle_errors
def fields_add(
    entity: EntityOption,
    name: NameOption,
    type_: Annotated[FieldType, typer.Option("--type", help="Value type.")],
    values: Annotated[str, typer.Option(help="Enum values, comma-separated.")] = "",
    feature: Annotated[bool, typer.Option(help="Use as a model input.")] = False,
    pii: Annotated[bool, typer.Option(help="Personal data (masked, erased on request).")] = False,
    required: Annotated[bool, typer.Option(help="Every row must have a value.")] = False,
    default: Annotated[str | None, typer.Option(help="Value for rows without one.")] = None,
    indexed: Annotated[bool, typer.Option(help="Create an expression index for filters.")] = False,
    description: Annotated[str, typer.Option(help="What the field means.")] = "",
    dry_run: Annotated[bool, typer.Option(help="Only report what would change.")] = False,
    force: Annotated[bool, typer.Option(help="Apply even if stored values break.")] = False,
    db: DbOption = None,
    tenant: TenantOption = None,
) -> None:
    """Add a custom field (stored values under its name are checked first)."""
    spec = FieldSpec.model_validate({
        "entity": entity, "name": name, "type": type_, "required": required, "default": default,
        "enum_values": [v.strip() for v in values.split(",") if v.strip()], "pii": pii,
        "feature": feature, "indexed": indexed, "description": description})
    with open_tenant(db, tenant, create=True) as (store, tid):
        _apply(lambda s, **kw: store.fields.add(tid, s, **kw), spec, dry_run, force)


@fields_app.command("change")
@handle_errors
def fields_change(
    entity: EntityOption,
    name: NameOption,
    type_: Annotated[FieldType | None, typer.Option("--type", help="New value type.")] = None,
    values: Annotated[str | None, typer.Option(help="New enum values, comma-separated.")] = None,
    feature: Annotated[bool | None, typer.Option("--feature/--no-feature")] = None,
    pii: Annotated[bool | None, typer.Option("--pii/--no-pii")] = None,
    required: Annotated[bool | None, typer.Option("--required/--optional")] = None,
    default: Annotated[str | None, typer.Option(help="New default ('' clears it).")] = None,
    indexed: Annotated[bool | None, typer.Option("--indexed/--not-indexed")] = None,
    description: Annotated[str | None, typer.Option()] = None,
    dry_run: Annotated[bool, typer.Option(help="Only report what would break.")] = False,
    force: Annotated[bool, typer.Option(help="Apply even if stored values break.")] = False,
    db: DbOption = None,
    tenant: TenantOption = None,
) -> None:
    """Change a field; shows what would break and refuses unless clean or --force."""
    with open_tenant(db, tenant) as (store, tid):
        old = store.fields.get(tid, entity, name)
        updates: dict[str, Any] = {k: v for k, v in {
            "type": type_, "feature": feature, "pii": pii, "required": required,
            "indexed": indexed, "description": description}.items() if v is not None}
        if values is not None:
            updates["enum_values"] = [v.strip() for v in values.split(",") if v.strip()]
        elif type_ is not None and type_ is not FieldType.ENUM:
            updates["enum_values"] = []
        if default is not None:
            updates["default"] = default or None
        spec = FieldSpec.model_validate({**old.model_dump(), **updates})
        _apply(lambda s, **kw: store.fields.change(tid, s, **kw), spec, dry_run, force)


@fields_app.command("remove")
@handle_errors
def fields_remove(
    entity: EntityOption,
    name: NameOption,
    purge: Annotated[bool, typer.Option(help="Also delete the stored values.")] = False,
    db: DbOption = None,
    tenant: TenantOption = None,
) -> None:
    """Remove a field from the schema; its values stay unless --purge."""
    with open_tenant(db, tenant) as (store, tid):
        purged = store.fields.remove(tid, entity, name, purge=purge)
    kept = f"{purged} values purged" if purge else "stored values kept"
    console.print(f"removed {entity} field [bold]{name}[/] ({kept})")


@fields_app.command("list")
@handle_errors
def fields_list(
    entity: Annotated[str | None, typer.Option(help="Only this entity.")] = None,
    db: DbOption = None,
    tenant: TenantOption = None,
) -> None:
    """List the tenant's custom fields."""
    with open_tenant(db, tenant) as (store, tid):
        specs = store.fields.list(tid, entity)
    table = Table()
    for column in ("entity", "name", "type", "values"):
        table.add_column(column, no_wrap=True)
    for column in ("flags", "default", "description"):
        table.add_column(column)
    for f in specs:
        flags = [n for n in ("required", "feature", "pii", "indexed") if getattr(f, n)]
        table.add_row(f.entity, f.name, f.type.value, ",".join(f.enum_values), " ".join(flags),
                      "" if f.default is None else str(f.default), f.description)
    console.print(table)


@event_types_app.command("list")
@handle_errors
def event_types_list(db: DbOption = None, tenant: TenantOption = None) -> None:
    """List the tenant's event types and their weights."""
    with open_tenant(db, tenant) as (store, tid):
        types = store.event_types.list(tid)
    table = Table()
    table.add_column("name", no_wrap=True)
    for column in ("weight", "uses value", "preference", "description"):
        table.add_column(column)
    for t in types:
        table.add_row(t.name, f"{t.weight:g}",
                      f"yes (centre {t.value_center:g})" if t.uses_value else "",
                      "yes" if t.preference else "no", t.description)
    console.print(table)


@event_types_app.command("add")
@handle_errors
def event_types_add(
    name: NameOption,
    weight: Annotated[float, typer.Option(help="Preference weight of one event.")] = 1.0,
    uses_value: Annotated[bool, typer.Option(help="Scale the weight by the event value.")] = False,
    value_center: Annotated[float, typer.Option(help="Value that counts as neutral.")] = 0.0,
    preference: Annotated[bool, typer.Option(
        "--preference/--no-preference", help="Whether it says anything about the item.")] = True,
    description: Annotated[str, typer.Option()] = "",
    db: DbOption = None,
    tenant: TenantOption = None,
) -> None:
    """Add an event type to the tenant's catalog."""
    event_type = EventType(name=name, weight=weight, uses_value=uses_value,
                           value_center=value_center, preference=preference,
                           description=description)
    with open_tenant(db, tenant, create=True) as (store, tid):
        store.event_types.add(tid, event_type)
    console.print(f"added event type [bold]{name}[/] (weight {weight:g})")
