"""``tailorcrm experiments``: store, list and report A/B tests; stop one and promote its winner."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from tailorcrm.cli.common import DbOption, TenantOption, console, handle_errors, open_tenant
from tailorcrm.cli.rules import FormatOption, VersionOption, config_format
from tailorcrm.customize.configs import dump_text, read_file
from tailorcrm.experiments.config import EXPERIMENT_KIND, load_experiment, parse_experiment
from tailorcrm.experiments.manage import experiment_results, list_experiments, save_experiment
from tailorcrm.experiments.promote import stop_experiment
from tailorcrm.experiments.report import ExperimentResults, VariantResult
from tailorcrm.privacy.admin_audit import audit_config
from tailorcrm.privacy.audit import CLI_ACTOR

app = typer.Typer(help="Experiments: A/B tests of strategies and action catalogs.",
                  no_args_is_help=True)

NameArg = Annotated[str, typer.Argument(help="Experiment name.")]
VIEWS = ("last_touch", "any_exposure")


@app.command("put")
@handle_errors
def put(file: Annotated[Path, typer.Argument(help="A .toml or .json experiment file.")],
        db: DbOption = None, tenant: TenantOption = None) -> None:
    """Check an experiment file and store it (under its ``name``) as the next version."""
    exp = parse_experiment(read_file(file))
    with open_tenant(db, tenant) as (store, tid):
        version = save_experiment(store, tid, exp)
        audit_config(store, tid, CLI_ACTOR, EXPERIMENT_KIND, exp.name, version)
    console.print(f"experiment {exp.name!r} stored as version {version}")


@app.command("get")
@handle_errors
def get(name: NameArg, version: VersionOption = None, fmt: FormatOption = "toml",
        db: DbOption = None, tenant: TenantOption = None) -> None:
    """Print a stored experiment (newest version by default) as TOML or JSON."""
    with open_tenant(db, tenant) as (store, tid):
        exp = load_experiment(store.configs, tid, name, version)
    typer.echo(dump_text(exp, config_format(fmt)), nl=False)


@app.command("list")
@handle_errors
def list_(db: DbOption = None, tenant: TenantOption = None) -> None:
    """The tenant's experiments: status, placement, variants, exposures."""
    with open_tenant(db, tenant) as (store, tid):
        infos = list_experiments(store, tid)
    table = Table("name", "version", "status", "surface", "placement", "variants",
                  "exposures", "winner")
    for i in infos:
        table.add_row(i.name, str(i.version), i.status, i.surface, i.placement,
                      ", ".join(i.variants), f"{i.exposures:,}", i.winner or "")
    console.print(table)


def _fmt(x: float | None, pct: bool) -> str:
    if x is None:
        return "–"
    return f"{x:.2%}" if pct else f"{x:,.2f}"


def _row(v: VariantResult, metric: str) -> list[str]:
    m = v.metrics[metric]
    pct = m.kind == "rate"
    cells = [v.name + (" (control)" if v.control else ""), f"{v.exposures:,}",
             f"{v.customers:,}", _fmt(m.value, pct), f"[{_fmt(m.low, pct)}, {_fmt(m.high, pct)}]"]
    if v.control:
        return [*cells, "", "", ""]
    return [*cells, _fmt(m.diff, pct), f"[{_fmt(m.diff_low, pct)}, {_fmt(m.diff_high, pct)}]",
            "–" if m.p_value is None else f"{m.p_value:.3g}"]


def print_results(res: ExperimentResults, view: str) -> None:
    """The report as tables: one per metric (the primary first)."""
    console.print(f"[bold]{res.experiment}[/] ({res.status}, {res.surface} of "
                  f"{res.placement!r}), {view.replace('_', ' ')} view, as of "
                  f"{res.as_of:%Y-%m-%d %H:%M} UTC")
    for metric in (res.primary_metric, *res.guard_metrics):
        rows = res.views[view]
        test = next((r.metrics[metric].test for r in rows if r.metrics[metric].test), "")
        table = Table("variant", "exposures", "customers", metric, "95 % interval",
                      "diff to control", "95 % interval", "p-value",
                      title=f"{metric}{' (primary)' if metric == res.primary_metric else ''}"
                            f"{f', {test}' if test else ''}")
        for v in rows:
            table.add_row(*_row(v, metric))
        console.print(table)
    srm = res.sample_ratio
    console.print(f"sample ratio: chi-square p = {srm.p_value:.3g}"
                  + (" [red]MISMATCH[/]" if srm.mismatch else " (ok)"))
    console.print(f"without personalization consent (control, counted apart): "
                  f"{res.without_consent.customers:,} customers")
    console.print(f"winner: {res.winner or 'none yet'}")
    for w in res.warnings:
        console.print(f"[yellow]warning:[/] {w}")


@app.command("report")
@handle_errors
def report(name: NameArg,
           view: Annotated[str, typer.Option(help="last_touch or any_exposure.")] = "last_touch",
           as_json: Annotated[bool, typer.Option("--json", help="Print the results as JSON "
                                                                "(both views).")] = False,
           db: DbOption = None, tenant: TenantOption = None) -> None:
    """Results per variant with 95 % intervals, the difference to the control and p-values
    (two-proportion z test for rates, Welch's t for revenue), SRM and power checks."""
    if view not in VIEWS:
        raise typer.BadParameter(f"--view: one of {', '.join(VIEWS)}")
    with open_tenant(db, tenant) as (store, tid):
        res = experiment_results(store, tid, name)
    if as_json:
        typer.echo(res.model_dump_json(indent=2))
        return
    print_results(res, view)


@app.command("stop")
@handle_errors
def stop(name: NameArg,
         promote: Annotated[bool, typer.Option(help="Make the winner what the placement "
                                                    "serves.")] = False,
         winner: Annotated[str | None, typer.Option(help="The variant to promote (default: "
                                                         "the significant winner).")] = None,
         db: DbOption = None, tenant: TenantOption = None) -> None:
    """Stop an experiment and (with ``--promote``) promote its winner, with an audit entry."""
    with open_tenant(db, tenant) as (store, tid):
        done = stop_experiment(store, tid, name, CLI_ACTOR, promote=promote, winner=winner)
    console.print(f"experiment {name!r} stopped (version {done.version}); winner: "
                  f"{done.winner or 'none'}")
    if done.promoted_to:
        console.print(f"promoted {done.winner!r} to {done.promoted_to} "
                      f"(version {done.promoted_version})")
