"""Marketing export: a segment's members with their best action and top recommendations, as CSV.

Consent, read per customer when the export runs (a change counts at once): customers whose
``consent_marketing`` is ``denied`` are never exported; with ``require_granted`` only
customers who granted it are (``unknown`` left out too). Segment membership is profiling:
customers whose ``consent_profiling`` is ``denied`` are left out of a segment's export. Cells that
a spreadsheet would run as a formula (starting with ``=``, ``+``, ``-``, ``@``, tab or carriage
return, and not a number) are prefixed with ``'`` (OWASP's CSV-injection advice).
"""

from __future__ import annotations

import csv
import datetime as dt
import logging
from contextlib import ExitStack
from pathlib import Path
from typing import Any, TextIO

from pydantic import BaseModel, ConfigDict

from tailorcrm.customize.actions import DEFAULT_CATALOG, ActionCatalog, load_catalog
from tailorcrm.customize.nba import actions_for_customer, item_record_view
from tailorcrm.errors import NotFoundError
from tailorcrm.privacy.consent import allows
from tailorcrm.store import Store

log = logging.getLogger(__name__)

COLUMNS = ("customer_id", "segmentation", "segment", "best_action", "action_title",
           "action_kind", "action_channel", "action_value", "action_reasons", "action_items",
           "top_items", "top_item_titles")


class ExportReport(BaseModel):
    """What an export wrote and whom it left out, by reason."""

    model_config = ConfigDict(extra="forbid")

    members: int = 0
    exported: int = 0
    consent_denied: int = 0
    consent_not_granted: int = 0
    profiling_denied: int = 0
    missing: int = 0
    without_action: int = 0


def _safe(value: Any) -> Any:
    if not isinstance(value, str) or not value or value[0] not in "=+-@\t\r":
        return value
    try:
        float(value)
        return value
    except ValueError:
        return "'" + value


def _top_items(store: Store, tid: int, strategy: str | None, customer_id: str, n: int,
               cache: dict[str, dict[str, Any] | None]) -> tuple[list[str], list[str]]:
    if strategy is None or n <= 0:
        return [], []
    record = store.recommendations.get(tid, strategy, customer_id)
    entries = record.items if record is not None else []
    ids = [e if isinstance(e, str) else str(e.get("item_id")) for e in entries][:n]
    titles = []
    for item_id in ids:
        if item_id not in cache:
            found = store.items.find(tid, item_id)
            cache[item_id] = None if found is None else item_record_view(found)
        titles.append(str((cache[item_id] or {}).get("title") or item_id))
    return ids, titles


def export_segment(store: Store, tid: int, segmentation: str, segment: str,
                   out: str | Path | TextIO, *, catalog: ActionCatalog | str = DEFAULT_CATALOG,
                   strategy: str | None = None, n_items: int = 5,
                   require_granted: bool = False, now: dt.datetime | None = None,
                   ) -> ExportReport:
    """Write one CSV row per exportable member of ``segmentation``/``segment``.

    ``strategy`` names the precomputed recommendation lists the top items come from (none
    when None). A missing catalog exports members without actions.
    """
    members = store.segments.members(tid, segmentation, segment)
    if not members and segment not in store.segments.list(tid).get(segmentation, {}):
        raise NotFoundError(f"no segment {segment!r} in segmentation {segmentation!r}",
                            segmentation=segmentation, segment=segment)
    try:
        cat = catalog if isinstance(catalog, ActionCatalog) else load_catalog(
            store.configs, tid, catalog)
    except NotFoundError:
        log.warning("no action catalog %r: exporting without actions", catalog)
        cat = ActionCatalog()
    report = ExportReport(members=len(members))
    cache: dict[str, dict[str, Any] | None] = {}
    with ExitStack() as stack:
        handle = stack.enter_context(open(out, "w", newline="", encoding="utf-8")) if \
            isinstance(out, str | Path) else out
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        for customer_id in members:
            record = store.customers.find(tid, customer_id)
            if record is None:
                report.missing += 1
                continue
            if record.consent_marketing == "denied":
                report.consent_denied += 1
                continue
            if not allows(record.consent_profiling):
                report.profiling_denied += 1
                continue
            if require_granted and record.consent_marketing != "granted":
                report.consent_not_granted += 1
                continue
            actions = actions_for_customer(store, tid, customer_id, catalog=cat, now=now,
                                           limit=1, item_cache=cache)
            best = actions[0] if actions else None
            report.without_action += best is None
            ids, titles = _top_items(store, tid, strategy, customer_id, n_items, cache)
            row = {"customer_id": customer_id, "segmentation": segmentation, "segment": segment,
                   "best_action": best.action if best else "",
                   "action_title": best.title if best else "",
                   "action_kind": best.kind if best else "",
                   "action_channel": best.channel if best else "",
                   "action_value": f"{best.value:g}" if best else "",
                   "action_reasons": "; ".join(r.label for r in best.reasons) if best else "",
                   "action_items": "|".join(best.items) if best else "",
                   "top_items": "|".join(ids), "top_item_titles": "|".join(titles)}
            writer.writerow({k: _safe(v) for k, v in row.items()})
            report.exported += 1
    log.info("exported %d of %d members of %s/%s", report.exported, report.members,
             segmentation, segment)
    return report
