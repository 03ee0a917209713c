"""The needs page: the needs report of ``tailorcrm needs report`` (need rates by segment and
cut-off month with intervals, RFM grid, segment profiles, model quality vs baseline, top
drivers, customers to act on first) inside the console, and its CSV of customers to act on.

Building the report reads the tenant's whole data set (and scores every segmentation at each
cut-off), so it is **cached in memory per store and tenant**, keyed by what would change it:
the active model versions (a training run moves them, and with them the need scores), the
number of customers and events, the sizes of the stored segments, and the versions of the
need definitions. A second view with none of those changed is served from memory; the
report's ``generated_at`` says when it was built. One build per tenant runs at a time (a
view arriving meanwhile waits for it instead of building it again).
"""

from __future__ import annotations

import csv
import io
import threading
import weakref
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any

from tailorcrm.needs.act_first import CSV_COLUMNS
from tailorcrm.needs.analysis_store import tenant_report
from tailorcrm.needs.definitions import CONFIG_KIND as NEED_KIND
from tailorcrm.needs.report import NeedsReport, rankings, report_context
from tailorcrm.store import Store


@dataclass(frozen=True)
class _Built:
    key: Hashable
    report: NeedsReport
    context: dict[str, Any]


_reports: weakref.WeakKeyDictionary[Store, dict[int, _Built]] = weakref.WeakKeyDictionary()
_locks: weakref.WeakKeyDictionary[Store, dict[int, threading.Lock]] = (
    weakref.WeakKeyDictionary())
_guard = threading.Lock()


def report_key(store: Store, tid: int) -> Hashable:
    """What the tenant's report depends on, read with a few small aggregates."""
    models = tuple(sorted((m.name, m.version) for m in store.models.list(tid) if m.active))
    segments = tuple((name, tuple(sorted(sizes.items())))
                     for name, sizes in sorted(store.segments.list(tid).items()))
    needs = tuple(sorted((c.name, c.version) for c in store.configs.list(tid, NEED_KIND)))
    return (models, store.customers.count(tid), store.events.count(tid), segments, needs)


def _lock(store: Store, tid: int) -> threading.Lock:
    with _guard:
        return _locks.setdefault(store, {}).setdefault(tid, threading.Lock())


def cached_report(store: Store, tid: int, tenant: str) -> tuple[NeedsReport, dict[str, Any]]:
    """The tenant's needs report and its template context, rebuilt only when its key moved
    (segments are not saved: a page view changes nothing)."""
    key = report_key(store, tid)
    with _lock(store, tid):
        with _guard:
            held = _reports.get(store, {}).get(tid)
        if held is not None and held.key == key:
            return held.report, held.context
        report = tenant_report(store, tid, tenant, save_segments=False)
        built = _Built(key, report, report_context(report))
        with _guard:
            _reports.setdefault(store, {})[tid] = built
    return built.report, built.context


def forget(store: Store | None = None) -> None:
    """Drop the cached reports (of ``store``, or all)."""
    with _guard:
        if store is None:
            _reports.clear()
        else:
            _reports.pop(store, None)


def needs_page(store: Store, tid: int, tenant: str) -> dict[str, Any]:
    """The template context of the needs page."""
    report, context = cached_report(store, tid, tenant)
    return {**context, "n_act_first": sum(a.n_scored for a in report.actions)}


_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: Any) -> Any:
    """A CSV cell that a spreadsheet will not run as a formula (text only: numbers stay)."""
    if isinstance(value, str) and value.startswith(_FORMULA):
        return "'" + value
    return value


def act_first_csv(store: Store, tid: int, tenant: str) -> str:
    """Every need's customers to act on first, ranked by score × value (the report's CSV)."""
    report, _ = cached_report(store, tid, tenant)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for frame in rankings(report):
        for row in frame[list(CSV_COLUMNS)].itertuples(index=False):
            writer.writerow([_cell(v) for v in row])
    return out.getvalue()
