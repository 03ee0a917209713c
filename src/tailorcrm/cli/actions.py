"""``tailorcrm actions``: the next-best-action catalog, per-customer actions and feedback."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from tailorcrm.cli.common import DbOption, TenantOption, console, handle_errors, open_tenant
from tailorcrm.cli.rules import FormatOption, VersionOption, config_format, show_rule_error
from tailorcrm.customize.actions import (
    DEFAULT_CATALOG,
    ActionCatalog,
    load_catalog,
    save_catalog,
)
from tailorcrm.customize.configs import dump_text, parse_text, read_file
from tailorcrm.customize.feedback import feedback_stats, record_feedback
from tailorcrm.customize.nba import actions_for_customer
from tailorcrm.errors import NotFoundError, RuleError

app = typer.Typer(help="Next best actions: catalog, ranked actions per customer, feedback.",
                  no_args_is_help=True)

CatalogOption = Annotated[str, typer.Option("--catalog", help="Catalog name.")]
CustomerArg = Annotated[str, typer.Argument(help="Customer id.")]


@app.command("put")
@handle_errors
def put(file: Annotated[Path, typer.Argument(help="A .toml or .json action catalog.")],
        catalog: CatalogOption = DEFAULT_CATALOG, db: DbOption = None,
        tenant: TenantOption = None) -> None:
    """Validate an action catalog (every eligibility rule) and store its next version."""
    body = read_file(file)
    checked = ActionCatalog.model_validate(body)
    try:
        checked.compile()
    except RuleError as exc:
        show_rule_error(exc, body)
        raise
    with open_tenant(db, tenant) as (store, tid):
        version = save_catalog(store.configs, tid, checked, catalog)
    console.print(f"catalog {catalog!r} stored as version {version} "
                  f"({len(checked.actions)} actions)")


@app.command("get")
@handle_errors
def get(catalog: CatalogOption = DEFAULT_CATALOG, version: VersionOption = None,
        fmt: FormatOption = "toml", db: DbOption = None, tenant: TenantOption = None) -> None:
    """Print the stored catalog (newest version by default) as TOML or JSON."""
    with open_tenant(db, tenant) as (store, tid):
        cat = load_catalog(store.configs, tid, catalog, version)
    typer.echo(dump_text(cat, config_format(fmt)), nl=False)


@app.command("list")
@handle_errors
def list_(catalog: CatalogOption = DEFAULT_CATALOG, db: DbOption = None,
          tenant: TenantOption = None) -> None:
    """The actions of the catalog with their eligibility and acceptance rate."""
    with open_tenant(db, tenant) as (store, tid):
        cat = load_catalog(store.configs, tid, catalog)
        stats = feedback_stats(store, tid, [a.name for a in cat.actions])
    table = Table("action", "kind", "channel", "priority", "value", "eligibility", "accepted")
    for a in cat.actions:
        rate = stats[a.name].acceptance_rate
        table.add_row(a.name + ("" if a.enabled else " (off)"), a.kind, a.channel,
                      f"{a.priority:g}", str(a.value), a.eligibility,
                      "-" if rate is None else f"{rate:.0%} of {stats[a.name].total}")
    console.print(table)


@app.command("for-customer")
@handle_errors
def for_customer(
    customer: CustomerArg,
    catalog: CatalogOption = DEFAULT_CATALOG,
    limit: Annotated[int | None, typer.Option(help="How many actions.")] = None,
    context: Annotated[str, typer.Option(help="Request context as JSON.")] = "{}",
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    db: DbOption = None,
    tenant: TenantOption = None,
) -> None:
    """A customer's eligible actions, best first, with reasons and linked items."""
    ctx = parse_text(context, "json", source="--context")
    errors: dict[str, str] = {}
    with open_tenant(db, tenant) as (store, tid):
        ranked = actions_for_customer(store, tid, customer, catalog=catalog, context=ctx,
                                      limit=limit, errors=errors)
    if as_json:
        typer.echo(json.dumps({"customer_id": customer, "actions": [a.to_dict() for a in ranked],
                               "errors": errors}, indent=2))
        return
    table = Table("#", "action", "channel", "value", "items", "reasons",
                  title=f"next best actions for {customer}")
    for rank, a in enumerate(ranked, 1):
        table.add_row(str(rank), a.title, a.channel, f"{a.value:g}", ", ".join(a.items),
                      "; ".join(r.label for r in a.reasons))
    console.print(table)
    for name, message in errors.items():
        console.print(f"[yellow]action {name!r} skipped: {message}[/]")


@app.command("feedback")
@handle_errors
def feedback(
    customer: CustomerArg,
    action: Annotated[str, typer.Argument(help="Action name.")],
    accepted: Annotated[bool, typer.Option("--accepted/--rejected",
                                           help="What the customer did.")],
    item: Annotated[str | None, typer.Option(help="Item the feedback is about.")] = None,
    catalog: CatalogOption = DEFAULT_CATALOG,
    db: DbOption = None,
    tenant: TenantOption = None,
) -> None:
    """Record that a customer accepted or rejected an action."""
    with open_tenant(db, tenant) as (store, tid):
        cat = load_catalog(store.configs, tid, catalog)
        if cat.get(action) is None:
            raise typer.BadParameter(f"no action {action!r} in catalog {catalog!r}")
        new = record_feedback(store, tid, customer, action, accepted, item_id=item,
                              ts=dt.datetime.now(dt.UTC))
    word = "accepted" if accepted else "rejected"
    console.print(f"{customer} {word} {action}" + ("" if new else " (already recorded)"))


@app.command("stats")
@handle_errors
def stats(catalog: CatalogOption = DEFAULT_CATALOG, as_json: Annotated[
        bool, typer.Option("--json", help="Print JSON.")] = False,
        db: DbOption = None, tenant: TenantOption = None) -> None:
    """Accepted / rejected counts and acceptance rate per action."""
    with open_tenant(db, tenant) as (store, tid):
        try:
            names = [a.name for a in load_catalog(store.configs, tid, catalog).actions]
        except NotFoundError:  # stats work without a catalog too
            names = []
        counts = feedback_stats(store, tid, names)
    if as_json:
        typer.echo(json.dumps({a: {"accepted": s.accepted, "rejected": s.rejected,
                                   "acceptance_rate": s.acceptance_rate}
                               for a, s in counts.items()}, indent=2))
        return
    table = Table("action", "accepted", "rejected", "acceptance rate")
    for name, s in counts.items():
        rate = "-" if s.acceptance_rate is None else f"{s.acceptance_rate:.1%}"
        table.add_row(name, str(s.accepted), str(s.rejected), rate)
    console.print(table)
