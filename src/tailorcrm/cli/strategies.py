"""``tailorcrm strategies``: store, show and try named recommendation strategies (TOML/JSON)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from tailorcrm.cli.common import DbOption, TenantOption, console, handle_errors, open_tenant
from tailorcrm.cli.rules import FormatOption, VersionOption, config_format
from tailorcrm.customize.configs import STRATEGY_KIND, dump_text, parse_text, read_file
from tailorcrm.customize.rules import effective_ruleset, validate_ruleset
from tailorcrm.customize.strategies import (
    Strategy,
    check_strategy,
    load_strategy,
    resolve_rules,
    save_strategy,
    strategy_to_recommender,
)

app = typer.Typer(help="Named strategies: model blend, fallback, rules, diversity, exclusions.",
                  no_args_is_help=True)

NameArg = Annotated[str, typer.Argument(help="Strategy name.")]


@app.command("put")
@handle_errors
def put(file: Annotated[Path, typer.Argument(help="A .toml or .json strategy file.")],
        db: DbOption = None, tenant: TenantOption = None) -> None:
    """Check a strategy file and store it (under its ``name``) as the next version."""
    strategy = check_strategy(Strategy.model_validate(read_file(file)))
    with open_tenant(db, tenant) as (store, tid):
        version = save_strategy(store.configs, tid, strategy)
    console.print(f"strategy {strategy.name!r} stored as version {version}")


@app.command("get")
@handle_errors
def get(name: NameArg, version: VersionOption = None, fmt: FormatOption = "toml",
        db: DbOption = None, tenant: TenantOption = None) -> None:
    """Print a stored strategy (newest version by default) as TOML or JSON."""
    with open_tenant(db, tenant) as (store, tid):
        strategy = load_strategy(store.configs, tid, name, version)
    typer.echo(dump_text(strategy, config_format(fmt)), nl=False)


@app.command("list")
@handle_errors
def list_(db: DbOption = None, tenant: TenantOption = None) -> None:
    """The tenant's strategies with their newest version."""
    with open_tenant(db, tenant) as (store, tid):
        infos = store.configs.list(tid, STRATEGY_KIND)
        rows = [(i, load_strategy(store.configs, tid, i.name)) for i in infos]
    table = Table("name", "version", "models", "count", "description")
    for info, s in rows:
        models = ", ".join(f"{m.kind}×{m.weight:g}" for m in s.models)
        table.add_row(info.name, str(info.version), models, str(s.count), s.description)
    console.print(table)


@app.command("show")
@handle_errors
def show(name: NameArg, version: VersionOption = None, db: DbOption = None,
         tenant: TenantOption = None) -> None:
    """A readable summary of a stored strategy and its versions."""
    with open_tenant(db, tenant) as (store, tid):
        s = load_strategy(store.configs, tid, name, version)
        versions = store.configs.versions(tid, STRATEGY_KIND, name)
    console.print(f"[bold]{s.name}[/] (versions {', '.join(map(str, versions))})"
                  + (f": {s.description}" if s.description else ""))
    console.print("blend: " + ", ".join(f"{m.kind} ×{m.weight:g}" for m in s.models)
                  + f" ({s.normalize} normalization)")
    console.print("fallback: " + (" → ".join(m.kind for m in s.fallback) or "none"))
    if s.rules is None or isinstance(s.rules, str):
        console.print(f"rules: {s.rules or 'none'}")
    else:
        for f in s.rules.filters:
            console.print(f"filter {f.name}: {f.expression} (on error: {f.on_error})")
        for b in s.rules.boosters:
            console.print(f"boost {b.name}: ×{b.factor} when {b.when or 'always'}")
    cap = s.diversity.max_per_group
    console.print(f"diversity: {f'at most {cap} per {s.diversity.field}' if cap else 'none'}")
    ex = s.exclusions
    shown = [k for k in ("bought", "unavailable", "rejected") if getattr(ex, k)]
    console.print(f"excludes: {', '.join(shown) or 'nothing'}; count {s.count}, pool {s.pool}")


@app.command("recommend")
@handle_errors
def recommend(
    name: NameArg,
    customer: Annotated[str, typer.Option("--customer", help="Customer id.")],
    n: Annotated[int | None, typer.Option("--n", help="How many items.")] = None,
    context: Annotated[str, typer.Option(help="Request context as JSON.")] = "{}",
    rules_file: Annotated[Path | None, typer.Option(
        "--rules", help="Rule-set file overriding the strategy's rules for this request.")
    ] = None,
    merge: Annotated[bool, typer.Option(
        help="Merge --rules into the strategy's rules (same names replaced).")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    db: DbOption = None,
    tenant: TenantOption = None,
) -> None:
    """Fit the strategy on the tenant's data now and show one customer's list with reasons.

    For trying a strategy on small tenants; serving reads precomputed lists instead.
    """
    from tailorcrm.customize.pipeline import Pipeline
    from tailorcrm.recommend.base import Recommender

    request = parse_text(context, "json", source="--context")
    override = validate_ruleset(read_file(rules_file)) if rules_file is not None else None
    with open_tenant(db, tenant) as (store, tid):
        s = load_strategy(store.configs, tid, name)
        rules = effective_ruleset(resolve_rules(s, store.configs, tid), override,
                                  mode="merge" if merge else "replace")
        data = store.load_dataset(tid)
        segments = store.segments.of_customer(tid, customer)
        needs = {k: r.score for k, r in store.need_scores.for_customer(tid, customer).items()}
    if s.uses_tenant_model:  # trying it here: the default recommender stands in
        from tailorcrm.recommend.default import default_recommender

        model: Recommender = default_recommender().fit(data)
    else:
        model = strategy_to_recommender(s).fit(data)
    result = Pipeline.build(s, model, data, rules=rules).recommend(
        customer, n, extra={"segments": segments, "needs": needs, "context": request})
    if as_json:
        typer.echo(json.dumps(result.to_dict(), indent=2))
        return
    table = Table("#", "item", "score", "reasons", title=f"{s.name} for {customer}")
    for rank, cand in enumerate(result.items, 1):
        table.add_row(str(rank), cand.item_id, f"{cand.score:.4g}",
                      "; ".join(r.label for r in cand.reasons))
    console.print(table)
    if result.rule_stats.errors:
        console.print(f"[yellow]{result.rule_stats.errors} rule evaluation error(s)[/]")


@app.command("template")
@handle_errors
def template_(name: Annotated[str, typer.Argument(
        help="homepage, cross-sell or service-follow-up.")], fmt: FormatOption = "toml") -> None:
    """Print a starting-point strategy to edit and `put`."""
    from tailorcrm.customize.templates import template

    typer.echo(dump_text(template(name), config_format(fmt)), nl=False)


@app.command("precompute")
@handle_errors
def precompute(name: NameArg, db: DbOption = None, tenant: TenantOption = None) -> None:
    """Fit a stored strategy and store every customer's list (what serving and exports read)."""
    from rich.progress import Progress

    from tailorcrm.customize.precompute import precompute_strategy

    with open_tenant(db, tenant) as (store, tid), Progress(console=console,
                                                           transient=True) as bar:
        task = bar.add_task(f"precompute {name}", total=None)

        def step(_: str, done: int, total: int | None) -> None:
            bar.update(task, completed=done, total=total)

        report = precompute_strategy(store, tid, name, progress=step)
    console.print(f"strategy {name!r}: {report.lists} lists stored "
                  f"(config {report.config_hash}, model {report.model_version}, "
                  f"{report.rule_errors} rule errors)")
