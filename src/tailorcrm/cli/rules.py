"""``tailorcrm rules``: validate, store, show and list business-rule sets (TOML/JSON files)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from tailorcrm.cli.common import (
    DbOption,
    TenantOption,
    console,
    err_console,
    handle_errors,
    open_tenant,
)
from tailorcrm.customize.configs import RULES_KIND, Format, dump_text, read_file
from tailorcrm.customize.rules import RuleSet, load_ruleset, save_ruleset, validate_ruleset
from tailorcrm.errors import RuleError

app = typer.Typer(help="Business rules: CEL filters and boosters, versioned per tenant.",
                  no_args_is_help=True)

FileArg = Annotated[Path, typer.Argument(help="A .toml or .json rule-set file.")]
NameArg = Annotated[str, typer.Argument(help="Rule-set name.")]
VersionOption = Annotated[int | None, typer.Option("--version", help="A stored version.")]
FormatOption = Annotated[str, typer.Option("--format", help="toml or json.")]


def show_rule_error(exc: RuleError, body: dict[str, Any]) -> None:
    """Print the failing expression with a caret under the error position."""
    details = exc.details
    rule, part, line, column = (details.get("rule") or details.get("action"),
                                details.get("part"), details.get("line"), details.get("column"))
    source = _find_source(body, rule, part)
    if source is None or not isinstance(line, int) or not isinstance(column, int):
        return
    lines = source.split("\n")
    if 1 <= line <= len(lines):
        err_console.print(f"  {escape(lines[line - 1])}", highlight=False)
        err_console.print("  " + " " * (column - 1) + "^", highlight=False)


def _find_source(body: dict[str, Any], rule: object, part: object) -> str | None:
    for key in ("filters", "boosters", "actions"):
        for entry in body.get(key) or []:
            if isinstance(entry, dict) and entry.get("name") == rule:
                value = entry.get(part) if isinstance(part, str) else None
                return value if isinstance(value, str) else None
    return None


def _load_checked(path: Path) -> RuleSet:
    body = read_file(path)
    try:
        return validate_ruleset(body)
    except RuleError as exc:
        show_rule_error(exc, body)
        raise


@app.command("validate")
@handle_errors
def validate(file: FileArg) -> None:
    """Check a rule-set file: schema and every expression (position of the first error)."""
    ruleset = _load_checked(file)
    console.print(f"[green]ok[/]: {len(ruleset.filters)} filter(s), "
                  f"{len(ruleset.boosters)} booster(s)")


@app.command("put")
@handle_errors
def put(name: NameArg, file: FileArg, db: DbOption = None, tenant: TenantOption = None) -> None:
    """Validate a rule-set file and store it as the next version of NAME."""
    ruleset = _load_checked(file)
    with open_tenant(db, tenant) as (store, tid):
        version = save_ruleset(store.configs, tid, name, ruleset)
    console.print(f"rules {name!r} stored as version {version}")


@app.command("get")
@handle_errors
def get(name: NameArg, version: VersionOption = None, fmt: FormatOption = "toml",
        db: DbOption = None, tenant: TenantOption = None) -> None:
    """Print a stored rule set (newest version by default) as TOML or JSON."""
    with open_tenant(db, tenant) as (store, tid):
        ruleset = load_ruleset(store.configs, tid, name, version)
    typer.echo(dump_text(ruleset, config_format(fmt)), nl=False)


@app.command("list")
@handle_errors
def list_(db: DbOption = None, tenant: TenantOption = None) -> None:
    """The tenant's rule sets with their newest version."""
    with open_tenant(db, tenant) as (store, tid):
        infos = store.configs.list(tid, RULES_KIND)
        rows = [(i, load_ruleset(store.configs, tid, i.name)) for i in infos]
    table = Table("name", "version", "filters", "boosters", "saved at")
    for info, rs in rows:
        table.add_row(info.name, str(info.version), str(len(rs.filters)),
                      str(len(rs.boosters)), str(info.created_at or ""))
    console.print(table)


def config_format(fmt: str) -> Format:
    if fmt not in ("toml", "json"):
        raise typer.BadParameter("use toml or json", param_hint="--format")
    return "toml" if fmt == "toml" else "json"
