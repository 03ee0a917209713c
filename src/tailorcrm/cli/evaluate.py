"""``tailorcrm evaluate``: offline evaluation of recommenders on an interaction file."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from tailorcrm.cli.common import (
    DbOption,
    TenantOption,
    console,
    handle_errors,
    load_settings,
    open_tenant,
)
from tailorcrm.errors import ConfigError
from tailorcrm.evaluation.loaders import InteractionFormat, read_interactions
from tailorcrm.evaluation.runner import DEFAULT_MODEL, EvaluationConfig, evaluate
from tailorcrm.recommend.spec import ModelSpec

log = logging.getLogger(__name__)

DEFAULT_MODELS = "popularity,itemknn,userknn,als,ease"


@handle_errors
def evaluate_command(
    interactions: Annotated[Path | None, typer.Option(
        "--interactions", help="Events file (u.data for --format movielens, else a CSV); "
        "without it, the tenant's stored data.")] = None,
    fmt: Annotated[str, typer.Option(
        "--format", help="movielens (tab-separated user item rating timestamp) or csv.")] = "csv",
    protocol: Annotated[str, typer.Option(
        help="stratified-item, temporal, leave-last-out or cutoff.")] = "stratified-item",
    ratio: Annotated[float, typer.Option(help="Train share of each item/customer.")] = 0.75,
    seed: Annotated[int, typer.Option(help="Seed of the stratified split.")] = 42,
    k: Annotated[int, typer.Option("--k", help="Length of each top-k list.")] = 10,
    holdout_weeks: Annotated[float, typer.Option(help="Weeks held out by 'cutoff'.")] = 8.0,
    json_out: Annotated[Path | None, typer.Option(
        "--json", help="Write the results document here.")] = None,
    models: Annotated[str, typer.Option(
        help="Comma-separated model kinds to evaluate.")] = DEFAULT_MODELS,
    default: Annotated[bool, typer.Option(
        "--default/--no-default", help="Also evaluate the default hybrid as 'default'.")] = True,
    strategy: Annotated[list[str] | None, typer.Option(
        "--strategy", help="A stored strategy of the tenant to evaluate (repeatable).")] = None,
    db: DbOption = None,
    tenant: TenantOption = None,
) -> None:
    """Split the events, fit every model on train, and score top-k lists on test."""
    names = [name for name in (m.strip() for m in models.split(",")) if name]
    config = EvaluationConfig.model_validate({
        "protocol": protocol, "ratio": ratio, "seed": seed, "k": k,
        "holdout_weeks": holdout_weeks, "include_default": default or DEFAULT_MODEL in names,
        "models": {name: ModelSpec(kind=name) for name in names if name != DEFAULT_MODEL},
    })
    if interactions is None or strategy:
        from tailorcrm.customize.strategy_scorer import stored_strategy_scorer

        with open_tenant(db, tenant) as (store, tid):
            scorers = {f"strategy:{name}": stored_strategy_scorer(store, tid, name)
                       for name in strategy or ()}
            source = (read_interactions(interactions, _format(fmt)) if interactions
                      else store.load_dataset(tid))
            if interactions is None and not len(source.events):
                raise ConfigError(f"tenant {tenant or load_settings(db=db).tenant!r} has no "
                                  "stored events to evaluate: import some, or give "
                                  "--interactions FILE")
            label = interactions.name if interactions else f"tenant:{tid}"
            result = evaluate(source, config, dataset=label, models=scorers or None)
    else:
        events = read_interactions(interactions, _format(fmt))
        result = evaluate(events, config, dataset=interactions.name)
    if json_out is not None:
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_text(json.dumps(result, indent=2) + "\n")
    console.print(_table(result))


def _format(value: str) -> InteractionFormat:
    if value not in ("movielens", "csv"):
        raise typer.BadParameter("--format must be movielens or csv")
    return "movielens" if value == "movielens" else "csv"


def _table(result: dict[str, Any]) -> Table:
    k = result["k"]
    columns = {f"ndcg@{k}": f"nDCG@{k}", f"precision@{k}": f"P@{k}", f"recall@{k}": f"R@{k}",
               "map": "MAP", "train_seconds": "train s", "recommend_seconds": "rec. s"}
    table = Table(title=f"{result['dataset']} · {result['protocol']} · k={k}")
    table.add_column("model", no_wrap=True)
    for label in columns.values():
        table.add_column(label, justify="right", no_wrap=True)
    for name, row in result["models"].items():
        table.add_row(name, *(f"{row[c]:.2f}" if c.endswith("seconds") else f"{row[c]:.4f}"
                              for c in columns))
    return table
