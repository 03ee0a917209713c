"""The experiments pages: the tenant's experiments, and one experiment's results as tables
(per variant, metric, interval, difference to the control and p-value) with its checks."""

from __future__ import annotations

from typing import Any

from tailorcrm.experiments.config import load_experiment
from tailorcrm.experiments.manage import ExperimentInfo, experiment_results, list_experiments
from tailorcrm.store import Store

VIEWS = (("last_touch", "Last touch"), ("any_exposure", "Any exposure"))


def experiments_page(store: Store, tid: int) -> list[ExperimentInfo]:
    """Every experiment of the tenant with its status and exposures."""
    return list_experiments(store, tid)


def experiment_page(store: Store, tid: int, name: str, view: str) -> dict[str, Any]:
    """One experiment's config and results in ``view`` (NotFoundError for an unknown name)."""
    exp = load_experiment(store.configs, tid, name)
    res = experiment_results(store, tid, name)
    chosen = view if view in dict(VIEWS) else VIEWS[0][0]
    metrics = [res.primary_metric, *res.guard_metrics]
    tables = []
    for metric in metrics:
        variants = res.views[chosen]
        rows: list[dict[str, Any]] = [{"variant": v, "m": v.metrics[metric]} for v in variants]
        test = next((v.metrics[metric].test for v in variants if v.metrics[metric].test), None)
        tables.append({"metric": metric, "primary": metric == res.primary_metric,
                       "test": test, "rate": variants[0].metrics[metric].kind == "rate",
                       "rows": rows})
    return {"exp": exp, "res": res, "view": chosen, "views": VIEWS, "tables": tables}
