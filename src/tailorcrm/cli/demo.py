"""``tailorcrm demo`` and ``tailorcrm train``: the main job on the demo CRM, or on any tenant."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from tailorcrm.cli.common import DbOption, TenantOption, console, handle_errors, load_settings
from tailorcrm.errors import ConfigError

if TYPE_CHECKING:
    from tailorcrm.store import Store

# The training and demo modules (pandas, scikit-learn, the models) are imported inside the
# commands, so that `tailorcrm demo --help` and `tailorcrm train --help` start at once.


@handle_errors
def demo_command(
    db: DbOption = None,
    tenant: Annotated[str, typer.Option("--tenant", help="Tenant of the demo.")] = "demo",
    out: Annotated[Path, typer.Option("--out", help="Folder for the generated files.")] = Path(
        ".tailorcrm/demo-data"),
    seed: Annotated[int, typer.Option(help="Seed of the generator.")] = 42,
    customers: Annotated[int, typer.Option(help="Number of customers.")] = 2000,
    items: Annotated[int, typer.Option(help="Number of items.")] = 300,
    serve: Annotated[bool, typer.Option("--serve/--no-serve",
                                        help="Serve the API afterwards.")] = True,
) -> None:
    """Generate the demo CRM, import it, train everything and show a sample of the results."""
    from tailorcrm.cli.models import choice_line
    from tailorcrm.cli.serve import api_access
    from tailorcrm.cli.serve import serve as serve_api
    from tailorcrm.cli.show import (
        show_actions,
        show_imports,
        show_needs,
        show_recommendations,
        show_segments,
    )
    from tailorcrm.demo.config import DemoConfig
    from tailorcrm.demo.run import run_demo
    from tailorcrm.jobs.progress import rich_progress
    from tailorcrm.store import Store

    settings = load_settings(db=db, tenant=tenant)
    store = Store.open(settings.database_url, artifacts_dir=settings.artifacts_dir)
    try:
        config = DemoConfig(seed=seed, n_customers=customers, n_items=items)
        with rich_progress(console) as progress:
            result = run_demo(store, tenant, out, settings.artifacts_dir, config, progress)
        console.print(f"[bold]demo tenant '{tenant}' in {settings.database_url}[/bold]")
        show_imports(console, result.imports)
        tid = result.tenant_id
        sample = _sample_customers(store, tid) + result.truth["cold_start_customers"][:1]
        show_recommendations(console, store, tid, sample)
        for need in (result.train.needs if result.train else {}):
            show_needs(console, store, tid, need)
        show_segments(console, store, tid)
        show_actions(console, store, tid, sample[:2])
        if result.train:
            if result.train.recommender_choice:
                console.print(f"recommender: {choice_line(result.train.recommender_choice)}")
            console.print("timings (s): " + json.dumps(result.train.seconds))
        if serve:
            secret, curl = api_access(store, tid, settings, sample[0])
            console.print(f"\n[bold]API key[/bold] (read, write): {secret}")
            console.print(f"[bold]try[/bold]: {curl}")
            _, admin = store.keys.create(tid, ("admin",), "demo console")
            console.print(f"OpenAPI: http://{settings.host}:{settings.port}/docs")
            console.print(f"\n[bold]Console[/bold]: http://{settings.host}:{settings.port}"
                          f"/console  sign in with the admin key {admin}  (Ctrl-C stops)")
    finally:
        store.close()
    if serve:
        serve_api(settings)


def _sample_customers(store: Store, tid: int, n: int = 2) -> list[str]:
    """Customers worth a salesperson's call: RFM 'at risk' (valuable, fading) with the highest
    churn scores; any high churn scores when that segment is empty."""
    at_risk = set(store.segments.members(tid, "rfm", "at_risk"))
    scores = store.need_scores.top(tid, "churn", limit=5000)
    chosen = [r.customer_id for r in scores if r.customer_id in at_risk][:n]
    return chosen or [r.customer_id for r in scores[:n]]


@handle_errors
def train_command(
    db: DbOption = None,
    tenant: TenantOption = None,
    no_recommend: Annotated[bool, typer.Option("--no-recommend")] = False,
    no_needs: Annotated[bool, typer.Option("--no-needs")] = False,
    no_segments: Annotated[bool, typer.Option("--no-segments")] = False,
    model: Annotated[str | None, typer.Option(
        "--model", help="Activate this candidate whatever the validation scores (e.g. "
                        "popularity, buy_again, default, ease).")] = None,
    repeats: Annotated[str | None, typer.Option(
        "--repeats", help="Repeat purchases as candidates: auto (learned), allow, exclude.")]
    = None,
    engine: Annotated[str | None, typer.Option(
        "--engine", help="single (this process, the default) or spark (docs/scale-out.md).")]
    = None,
    master: Annotated[str | None, typer.Option(
        "--master", help="Spark master URL for --engine spark (default local[2]).")] = None,
    conf: Annotated[list[str] | None, typer.Option(
        "--conf", help="A spark.* setting k=v for --engine spark (repeatable).")] = None,
) -> None:
    """Choose and train the tenant's recommender (validation scores printed), needs and
    segments, and store their results. ``--model``/``--repeats`` override the tenant's
    ``recommender``/``selection`` config document for this run. ``--engine spark`` trains
    and precomputes the recommender on Apache Spark instead."""
    from tailorcrm.cli.models import choice_line
    from tailorcrm.jobs.progress import rich_progress
    from tailorcrm.jobs.train import TrainConfig, train_tenant
    from tailorcrm.recommend.selection import SelectionConfig, load_selection_config
    from tailorcrm.store import Store

    settings = load_settings(db=db, tenant=tenant)
    if (engine or settings.engine) not in ("single", "spark"):
        raise ConfigError(f"--engine is single or spark, not {engine!r}")
    store = Store.open(settings.database_url, artifacts_dir=settings.artifacts_dir)
    try:
        tid = store.tenants.id_of(settings.tenant)
        if (engine or settings.engine) == "spark":
            from tailorcrm.spark.cli import train_on_spark

            train_on_spark(store, tid, settings, TrainConfig(
                recommend=not no_recommend, needs=not no_needs, segments=not no_segments),
                master, conf, console)
            return
        selection = None
        if model is not None or repeats is not None:
            base = load_selection_config(store.configs, tid).model_dump()
            selection = SelectionConfig.model_validate(
                base | {k: v for k, v in (("force", model), ("repeats", repeats)) if v})
        config = TrainConfig(recommend=not no_recommend, needs=not no_needs,
                             segments=not no_segments, selection=selection)
        with rich_progress(console) as progress:
            report = train_tenant(store, tid, settings.artifacts_dir, config, progress)
        if report.recommender_choice:
            console.print(f"recommender: {choice_line(report.recommender_choice)}")
        console.print_json(report.model_dump_json())
    finally:
        store.close()
