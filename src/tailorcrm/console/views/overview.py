"""The overview page: sizes, events over time, the last imports and the models in use."""

from __future__ import annotations

from pathlib import PurePath
from typing import Any

from tailorcrm.needs.analysis_store import model_quality, tenant_needs
from tailorcrm.needs.report import ModelQuality
from tailorcrm.store import Store

RECOMMENDER = "recommender"
PALETTE = ("#3867d6", "#20bf6b", "#fa8231", "#8854d0", "#eb3b5a", "#0fb9b1", "#f7b731",
           "#4b6584")


def events_chart(rows: list[tuple[str, str, int]]) -> dict[str, Any]:
    """A Chart.js stacked bar config of events per month and type."""
    months = sorted({m for m, _, _ in rows})
    types = sorted({t for _, t, _ in rows})
    at = {(m, t): n for m, t, n in rows}
    return {"type": "bar", "data": {"labels": months, "datasets": [
        {"label": t, "data": [at.get((m, t), 0) for m in months],
         "backgroundColor": PALETTE[i % len(PALETTE)]} for i, t in enumerate(types)]},
            "options": {"animation": False, "responsive": True, "maintainAspectRatio": False,
                        "scales": {"x": {"stacked": True}, "y": {"stacked": True,
                                                               "beginAtZero": True}}}}


def _import_row(record: Any) -> dict[str, Any]:
    report = record.report or {}
    return {"id": record.id, "entity": record.entity,
            "source": PurePath(record.source).name or record.source,
            "status": report.get("status", "running" if record.finished_at is None else ""),
            "started_at": record.started_at, "rows_read": record.rows_read,
            "rows_loaded": record.rows_loaded, "rows_rejected": record.rows_rejected,
            "rows_duplicate": record.rows_duplicate,
            "errors_by_field": report.get("errors_by_field") or {},
            "errors_by_reason": report.get("errors_by_reason") or {},
            "warnings": [w.get("message", "") for w in report.get("warnings") or []
                         if isinstance(w, dict)],
            "rows_per_second": report.get("rows_per_second")}


def recommender_choice(store: Store, tid: int) -> dict[str, Any] | None:
    """The active recommender and how it was chosen on the tenant's validation carve."""
    record = store.models.active(tid, RECOMMENDER)
    if record is None:
        return None
    selection = record.metrics.get("selection") or {}
    scores = selection.get("scores") or {}
    ranked = sorted(((k, float(v)) for k, v in scores.items() if v is not None),
                    key=lambda kv: -kv[1])
    chart = {"type": "bar", "data": {"labels": [k for k, _ in ranked], "datasets": [
        {"label": "validation nDCG@10", "data": [round(v, 4) for _, v in ranked],
         "backgroundColor": ["#3867d6" if k == selection.get("chosen") else "#a5b1c2"
                             for k, _ in ranked]}]},
             "options": {"animation": False, "indexAxis": "y", "responsive": True,
                         "maintainAspectRatio": False, "plugins": {"legend": {"display": False}}}}
    return {"version": record.version, "kind": record.kind, "created_at": record.created_at,
            "chosen": selection.get("chosen", record.kind),
            "personalized": selection.get("personalized"),
            "chosen_ndcg": selection.get("chosen_ndcg"),
            "popularity": selection.get("popularity"),
            "popularity_ndcg": selection.get("popularity_ndcg"),
            "margin": selection.get("margin_over_popularity"), "z": selection.get("z"),
            "note": selection.get("note", ""),
            "carve": (selection.get("carve") or {}).get("rule", ""),
            "validation_customers": (selection.get("carve") or {}).get("validation_customers"),
            "scores": ranked, "chart": chart, "events": record.metrics.get("events")}


def need_models(store: Store, tid: int) -> list[ModelQuality]:
    """Each need's model in use with its grade against the baseline."""
    return model_quality(store, tid, {n.name for n in tenant_needs(store, tid)})


def overview(store: Store, tid: int) -> dict[str, Any]:
    """Everything the overview page shows."""
    by_month = store.console.events_by_month(tid)
    others = [m for m in store.models.list(tid)
              if m.active and m.name != RECOMMENDER and not m.name.startswith("need:")]
    return {"n_customers": store.customers.count(tid), "n_items": store.items.count(tid),
            "n_events": store.events.count(tid), "events_chart": events_chart(by_month),
            "months": len({m for m, _, _ in by_month}),
            "imports": [_import_row(r) for r in store.imports.list(tid, limit=10)],
            "recommender": recommender_choice(store, tid), "needs": need_models(store, tid),
            "other_models": others, "lists": store.recommendations.strategies(tid)}
