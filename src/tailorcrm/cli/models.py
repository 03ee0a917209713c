"""``tailorcrm models list``: a tenant's trained model versions and how each was chosen."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.table import Table

from tailorcrm.cli.common import DbOption, TenantOption, console, handle_errors, open_tenant
from tailorcrm.store.models import ModelRecord

app = typer.Typer(help="Trained model versions, the active one, and their validation scores.",
                  no_args_is_help=True)


@app.callback()
def models() -> None:
    """Trained model versions, the active one, and their validation scores."""


def choice_line(selection: dict[str, Any]) -> str:
    """One line on a model choice: the winner, its validation nDCG, popularity's, the margin."""
    if not selection:
        return "no model choice recorded"
    chosen, pop = selection.get("chosen"), selection.get("popularity_ndcg")
    if pop is None:
        return f"{chosen}: {selection.get('note') or 'not scored'}"
    margin = selection.get("margin_over_popularity")
    kind = "personalized" if selection.get("personalized") else "NOT personalized"
    line = (f"{chosen} ({kind}, repeats {selection.get('repeats')}): validation nDCG@10 "
            f"{selection.get('chosen_ndcg'):.4f} vs {selection.get('popularity')} {pop:.4f}")
    if margin is not None:
        line += f", best personalized {selection.get('best_personalized')} {margin:+.1%}"
    return line + (f" — {selection['note']}" if selection.get("note") else "")


@app.command("list")
@handle_errors
def list_models(
    name: Annotated[str | None, typer.Option("--name", help="Only this model name.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    db: DbOption = None,
    tenant: TenantOption = None,
) -> None:
    """List model versions, newest first, with the validation scores of their choice."""
    with open_tenant(db, tenant) as (store, tid):
        records: list[ModelRecord] = store.models.list(tid, name)
    if as_json:
        console.print_json(json.dumps([r.model_dump(mode="json") for r in records]))
        return
    table = Table("name", "version", "kind", "active", "choice", "created")
    for r in records:
        table.add_row(r.name, r.version, r.kind, "yes" if r.active else "",
                      choice_line(r.metrics.get("selection", {})) if r.name == "recommender"
                      else "", r.created_at.isoformat() if r.created_at else "")
    console.print(table)


@app.command("configure")
@handle_errors
def configure(
    force: Annotated[str | None, typer.Option(
        "--force", help="Always activate this candidate (popularity, buy_again, default, "
                        "ease, ...); '' clears it.")] = None,
    repeats: Annotated[str | None, typer.Option(
        "--repeats", help="Repeat purchases as candidates: auto (learned), allow, exclude.")]
    = None,
    enabled: Annotated[bool | None, typer.Option(
        "--enabled/--disabled", help="Choose the model on validation (or keep the default "
                                     "hybrid).", show_default=False)] = None,
    db: DbOption = None,
    tenant: TenantOption = None,
) -> None:
    """Store the tenant's model-choice override (config ``recommender``/``selection``), used
    by every later training run; prints the stored document."""
    from tailorcrm.recommend.selection import (
        SELECTION_KIND,
        SELECTION_NAME,
        SelectionConfig,
        load_selection_config,
    )

    with open_tenant(db, tenant) as (store, tid):
        body = load_selection_config(store.configs, tid).model_dump(mode="json")
        if force is not None:
            body["force"] = force or None
        if repeats is not None:
            body["repeats"] = repeats
        if enabled is not None:
            body["enabled"] = enabled
        config = SelectionConfig.model_validate(body)
        store.configs.put(tid, SELECTION_KIND, SELECTION_NAME, config.model_dump(mode="json"))
    console.print_json(config.model_dump_json())
