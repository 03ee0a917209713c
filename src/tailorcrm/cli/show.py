"""Rich tables that show stored results: recommendations, need scores, segments, imports."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from tailorcrm.ingest.quality import QualityReport
from tailorcrm.store import Store


def _reason_text(reasons: list[Any], limit: int = 2) -> str:
    parts = []
    for r in reasons[:limit]:
        if isinstance(r, dict):
            parts.append(str(r.get("text") or r.get("label") or r.get("kind") or r))
        else:
            parts.append(str(r))
    return "; ".join(parts)


def show_imports(console: Console, reports: dict[str, QualityReport]) -> None:
    """One row per import: rows read, loaded, duplicate, rejected, warnings."""
    table = Table(title="imports (data-quality report)")
    for col in ("entity", "read", "loaded", "duplicate", "rejected", "warnings"):
        table.add_column(col, justify="left" if col in ("entity", "warnings") else "right")
    for entity, r in reports.items():
        table.add_row(entity, f"{r.rows_read:,}", f"{r.rows_loaded:,}", f"{r.rows_duplicate:,}",
                      f"{r.rows_rejected:,}", "; ".join(w.message for w in r.warnings[:2]))
    console.print(table)


def show_recommendations(console: Console, store: Store, tid: int, customer_ids: list[str],
                         strategy: str = "default", n: int = 5) -> None:
    """The precomputed top-``n`` of each customer, with the first reasons of each item."""
    for cid in customer_ids:
        stored = store.recommendations.get(tid, strategy, cid)
        table = Table(title=f"recommendations for {cid}")
        table.add_column("#", justify="right")
        table.add_column("item")
        table.add_column("score", justify="right")
        table.add_column("why")
        for rank, item in enumerate((stored.items if stored else [])[:n], start=1):
            table.add_row(str(rank), str(item["item_id"]), f"{item['score']:.3f}",
                          _reason_text(item.get("reasons", [])))
        console.print(table)


def show_needs(console: Console, store: Store, tid: int, need: str, n: int = 5) -> None:
    """The ``n`` customers with the highest score for ``need``, with their reasons."""
    table = Table(title=f"highest '{need}' scores")
    table.add_column("customer")
    table.add_column("score", justify="right")
    table.add_column("why", overflow="fold")
    for rec in store.need_scores.top(tid, need, limit=n):
        table.add_row(rec.customer_id, f"{rec.score:.2f}", _reason_text(rec.reasons, 3))
    console.print(table)


def show_segments(console: Console, store: Store, tid: int) -> None:
    """Every stored segmentation with its segments' sizes."""
    table = Table(title="segments")
    table.add_column("segmentation")
    table.add_column("segment")
    table.add_column("customers", justify="right")
    for segmentation, sizes in store.segments.list(tid).items():
        for segment, size in sorted(sizes.items(), key=lambda kv: -kv[1]):
            table.add_row(segmentation, segment, f"{size:,}")
    console.print(table)


def show_actions(console: Console, store: Store, tid: int, customer_ids: list[str]) -> None:
    """Each customer's ranked next best actions with the rule and scores behind them."""
    from tailorcrm.customize.nba import actions_for_customer

    table = Table(title="next best actions")
    table.add_column("customer")
    table.add_column("action")
    table.add_column("channel")
    table.add_column("why", overflow="fold")
    for cid in customer_ids:
        for action in actions_for_customer(store, tid, cid, limit=2):
            table.add_row(cid, action.title or action.action, action.channel,
                          _reason_text([r.to_dict() for r in action.reasons], 2))
    console.print(table)
