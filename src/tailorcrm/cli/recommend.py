"""``tailorcrm recommend``: show one customer's list, or precompute every list into the store."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from tailorcrm.cli.common import DbOption, TenantOption, console, handle_errors, open_tenant
from tailorcrm.data.dataset import Dataset
from tailorcrm.errors import NotFoundError
from tailorcrm.jobs.progress import rich_progress
from tailorcrm.jobs.recommend_batch import recommend_all
from tailorcrm.jobs.train import RECOMMENDER_NAME, config_hash
from tailorcrm.recommend import default_recommender
from tailorcrm.recommend.base import Recommender
from tailorcrm.recommend.ranking import Ranker, RankingConfig, load_ranking_config
from tailorcrm.recommend.registry import load_model
from tailorcrm.schema.ids import normalize_id
from tailorcrm.store import Store

app = typer.Typer(help="Recommendations with reasons: one customer's list, or all of them.",
                  no_args_is_help=True)

def _model(store: Store, tid: int, data: Dataset, n: int
           ) -> tuple[Recommender, str, RankingConfig]:
    """The tenant's active trained model and the ranking it was chosen with (its repeat
    policy), else the default fitted now."""
    record = store.models.active(tid, RECOMMENDER_NAME)
    if record is not None:
        ranking = load_ranking_config(record.path) or RankingConfig()
        return load_model(record.path), record.version, ranking.model_copy(update={"n": n})
    return default_recommender().fit(data), "unsaved", RankingConfig(n=n)


@app.command("show")
@handle_errors
def show(
    customer_id: Annotated[str, typer.Argument(help="External customer id.")],
    n: Annotated[int, typer.Option("--n", min=1, help="List length.")] = 10,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    db: DbOption = None,
    tenant: TenantOption = None,
) -> None:
    """Show a customer's top-N items with their reasons."""
    with open_tenant(db, tenant) as (store, tid):
        customer_id = normalize_id(customer_id, field="customer_id")
        if store.customers.find(tid, customer_id) is None and not store.events.for_customer(
                tid, customer_id, limit=1):
            raise NotFoundError(f"no customer {customer_id!r} in this tenant",
                                customer_id=customer_id)
        data = store.load_dataset(tid)
        model, _, ranking = _model(store, tid, data, n)
        recs = Ranker(model, data, ranking).recommend(customer_id)
    if as_json:
        console.print_json(json.dumps([r.to_dict() for r in recs]))
        return
    table = Table("#", "item", "score", "reasons")
    for rank, rec in enumerate(recs, 1):
        reasons = "; ".join(f"{r.label} ({r.weight:.0%} of the reason)" if len(rec.reasons) > 1
                            else r.label for r in rec.reasons)
        table.add_row(str(rank), rec.item_id, f"{rec.score:.3f}", reasons)
    console.print(table)


@app.command("batch")
@handle_errors
def batch(
    strategy: Annotated[str, typer.Option("--strategy", help="List name in the store.")]
    = "default",
    n: Annotated[int, typer.Option("--n", min=1, help="List length.")] = 10,
    db: DbOption = None,
    tenant: TenantOption = None,
) -> None:
    """Recommend for every customer (progress bar) and store the lists for serving."""
    with open_tenant(db, tenant) as (store, tid):
        data = store.load_dataset(tid)
        model, version, config = _model(store, tid, data, n)
        with rich_progress(console) as progress:
            rows = recommend_all(Ranker(model, data, config), model_version=version,
                                 config_hash=config_hash(config), progress=progress)
        stored = store.recommendations.replace(tid, strategy, rows)
    console.print(f"stored {stored} lists under strategy {strategy!r}")
