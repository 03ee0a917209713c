"""``tailorcrm needs define|list|train|score|explain``: need prediction from the command line."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Annotated

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
from tailorcrm.errors import ConfigError, NotFoundError
from tailorcrm.needs.analysis_store import item_catalog
from tailorcrm.needs.definitions import (
    PropensityNeed,
    check_item_refs,
    list_needs,
    load_need,
    parse_need,
    save_need,
)
from tailorcrm.needs.publishing import train_and_publish
from tailorcrm.needs.scoring import BASELINE_KIND, load_active, model_name, score_customers

ArtifactOption = Annotated[Path | None, typer.Option(
    "--artifacts", help="Directory for model artifacts (default: the artifacts_dir setting, "
                        "as `tailorcrm train` uses).")]


@handle_errors
def define(
    file: Annotated[Path, typer.Argument(help="TOML or JSON need definition (needs 'kind').")],
    db: DbOption = None, tenant: TenantOption = None,
) -> None:
    """Store a need definition (label, churn, propensity or spend) for the tenant."""
    text = file.read_text()
    try:
        body = json.loads(text) if file.suffix == ".json" else tomllib.loads(text)
    except (ValueError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot read {file}: {exc}") from exc
    need = parse_need(body)
    with open_tenant(db, tenant, create=True) as (store, tid):
        if isinstance(need, PropensityNeed) and (need.items or need.categories):
            ids, cats = item_catalog(store, tid)
            if ids:  # a tenant with items: every listed id and category must match one
                check_item_refs(need, ids, cats)
            else:
                console.print("[yellow]warning:[/] the tenant has no items yet; the need's "
                              "item list is not checked")
        version = save_need(store, tid, need)
    console.print(f"need [bold]{need.name}[/] ({need.kind}) saved as version {version}")


@handle_errors
def list_(db: DbOption = None, tenant: TenantOption = None) -> None:
    """List the tenant's needs."""
    with open_tenant(db, tenant) as (store, tid):
        needs = list_needs(store, tid)
    table = Table("name", "kind", "definition")
    for need in needs:
        body = need.model_dump(exclude={"name", "kind", "description"}, exclude_defaults=True)
        table.add_row(need.name, need.kind, json.dumps(body))
    console.print(table)


@handle_errors
def train(
    need: Annotated[str, typer.Argument(help="Need name.")],
    db: DbOption = None, tenant: TenantOption = None,
    artifacts: ArtifactOption = None,
) -> None:
    """Evaluate and grade against the baseline, train, and publish the model only if it
    beats the baseline held out (else keep the last good model, or publish the baseline)."""
    with open_tenant(db, tenant) as (store, tid):
        definition = load_need(store, tid, need)
        data = store.load_dataset(tid)
        folder = artifacts.resolve() if artifacts else load_settings(db=db).artifacts_dir
        watermark = store.tombstones.watermark(tid)
        outcome = train_and_publish(store, tid, definition, data, folder,
                                    erased_after=watermark)
        record = store.models.get(tid, model_name(need), outcome.trained_version)
    ev = record.metrics
    if ev.get("grade"):
        console.print(f"{ev['protocol']}\nmodel {json.dumps(_short(ev['model']))}\n"
                      f"baseline ({ev['baseline_kind']}) {json.dumps(_short(ev['baseline']))}"
                      f"\ngrade [bold]{outcome.grade}[/]: {ev['grade']['explanation']}")
    console.print(f"gate: {'passed' if outcome.gate.passed else 'failed'}, "
                  f"{outcome.gate.reason}")
    what = {"model": f"published model {outcome.model_version}",
            "baseline": f"published the baseline's scores ({outcome.baseline_kind}) as "
                        f"{outcome.model_version}",
            "kept": f"kept the last good model {outcome.model_version} and its scores"}
    console.print(f"trained {outcome.algorithm} ({outcome.trained_version}); "
                  f"{what[outcome.source]}; {outcome.customers_scored} customers scored")


def _short(metrics: dict[str, float]) -> dict[str, float]:
    return {k: round(v, 4) for k, v in metrics.items() if k != "n"}


@handle_errors
def score(
    need: Annotated[str, typer.Argument(help="Need name.")],
    db: DbOption = None, tenant: TenantOption = None,
    top: Annotated[int, typer.Option(help="How many customers to show.")] = 10,
) -> None:
    """Show the customers with the highest stored scores for a need."""
    with open_tenant(db, tenant) as (store, tid):
        rows = store.need_scores.top(tid, need, limit=top)
    if not rows:
        raise NotFoundError(f"no scores for need {need!r}; run 'tailorcrm needs train'")
    table = Table("customer", "score", "top reason", "model", "source")
    for r in rows:
        reason = r.reasons[0]["text"] if r.reasons else ""
        table.add_row(r.customer_id, f"{r.score:.3f}", reason, r.model_version, r.source)
    console.print(table)


@handle_errors
def explain_(
    need: Annotated[str, typer.Argument(help="Need name.")],
    customer: Annotated[str, typer.Argument(help="Customer id.")],
    db: DbOption = None, tenant: TenantOption = None,
    top: Annotated[int, typer.Option(help="How many reasons.")] = 5,
) -> None:
    """Score one customer now with the active model and print the reasons."""
    with open_tenant(db, tenant) as (store, tid):
        record = store.models.active(tid, model_name(need))
        if record is not None and record.kind.startswith(BASELINE_KIND):
            stored = store.need_scores.for_customer(tid, customer).get(need)
            if stored is None:
                raise NotFoundError(f"no score of {need!r} for {customer!r}",
                                    customer_id=customer)
            console.print(f"{need} for {customer}: [bold]{stored.score:.3f}[/] (baseline)")
            for reason in stored.reasons:
                console.print(f"  - {reason['text']}")
            return
        model = load_active(store, tid, need)
        data = store.load_dataset(tid)
    if customer not in data.customers.index:
        raise NotFoundError(f"no customer {customer!r}", customer_id=customer)
    row = score_customers(model, data, data.customers.index[data.customers.index == customer],
                          top=top).iloc[0]
    console.print(f"{need} for {customer}: [bold]{row.score:.3f}[/]")
    for reason in row.reasons:
        console.print(f"  - {reason['text']}")


def register(app: typer.Typer) -> None:
    """Attach the prediction commands to the ``needs`` group."""
    app.command("define")(define)
    app.command("list")(list_)
    app.command("train")(train)
    app.command("score")(score)
    app.command("explain")(explain_)
