"""Next best actions from memory: each tenant's catalogs, customers, segments, need scores,
linked lists and rejections, kept current by the store's change feed.

Per worker, like the recommendation path (docs/serving.md):

* catalogs: read at most once per ``CATALOG_TTL_S`` (1 s) per tenant and name;
* customers (fields, consent): the change feed's newest customer update; changed rows only;
* rejections: the change feed's newest event id; rejection events after it only;
* segments, need scores, items: a stamp (rows, newest write) of each table, read whole
  when it moved (training replaces them whole);
* linked strategies' lists: the change feed's newest list id, read whole when it moved;
* erasures: the change feed's newest tombstone; the tenant is read whole again.

Marks are read at most once per ``POLL_S`` (0.5 s) per tenant, at once after :meth:`touch`
(a write through this worker). Everything is read whole again every ``FULL_REFRESH_S`` as
well, which bounds what no mark shows (an event deleted by key through another worker).
An answer is kept per customer, catalog and limit (:meth:`ActionsCache.answer`) until
anything it was made from changes, or a rejection starts or stops counting.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from tailorcrm.customize.actions import ActionCatalog, load_catalog
from tailorcrm.customize.context import RuleContext
from tailorcrm.customize.feedback import REJECTED
from tailorcrm.customize.nba import ActionInputs, customer_fields_view, item_record_view
from tailorcrm.errors import TailorCRMError
from tailorcrm.schema.ids import canonical
from tailorcrm.serving.tenant_model import POLL_S
from tailorcrm.store import Store
from tailorcrm.store.bulk_customers import BulkCustomers, CustomerFields, ResultsStamp
from tailorcrm.store.changes import Mark

CATALOG_TTL_S = 1.0
FULL_REFRESH_S = 300.0  # a whole read costs ~0.4 s of one core on the demo tenant
MAX_ANSWERS = 200_000  # customers with answers kept per tenant (all dropped beyond)

Rejections = list[tuple[dt.datetime, int, str]]  # (ts, event id, action), newest first


@dataclass(frozen=True)
class Answer:
    """A response body made from a tenant's state at ``version`` with ``catalog``."""

    version: int
    catalog: ActionCatalog
    valid_until: dt.datetime | None
    body: bytes


@dataclass
class TenantActions:
    """One tenant's next-best-action inputs in memory (see the module docstring)."""

    tid: int
    records: dict[str, CustomerFields] = field(default_factory=dict)
    segments: dict[str, dict[str, str]] = field(default_factory=dict)
    needs: dict[str, dict[str, tuple[float, str]]] = field(default_factory=dict)
    rejections: dict[str, Rejections] = field(default_factory=dict)
    lists: dict[str, dict[str, list[Any]]] = field(default_factory=dict)
    items: dict[str, dict[str, Any] | None] = field(default_factory=dict)
    contexts: dict[str, RuleContext] = field(default_factory=dict)
    answers: dict[str, dict[tuple[str, int | None], Answer]] = field(default_factory=dict)
    version: int = 0  # moves on every change applied
    mark: Mark | None = None
    stamp: ResultsStamp | None = None
    polled: float = 0.0
    loaded: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _seen: set[int] = field(default_factory=set, repr=False)  # rejection event ids

    @property
    def fresh(self) -> bool:
        """True while no mark needs reading (nothing to sync before answering)."""
        return self.mark is not None and time.monotonic() - self.polled < POLL_S

    # -- keeping current --------------------------------------------------------------------
    def sync(self, store: Store, bulk: BulkCustomers) -> None:
        """Apply what changed since the last read (at most once per ``POLL_S``)."""
        if self.fresh:
            return
        # The first load and a sync after a write here wait; other syncs let the other
        # threads serve the current state meanwhile.
        if not self.lock.acquire(blocking=self.mark is None or self.polled == 0.0):
            return
        try:
            if self.fresh:
                return
            mark, stamp = store.changes.mark(self.tid), bulk.stamp(self.tid)
            last, last_stamp = self.mark, self.stamp
            erased = last is not None and mark.tombstone_id != last.tombstone_id
            if erased:
                self._reset(lists=True, items=True)  # nothing of theirs stays in memory
            if (last is None or last_stamp is None or erased
                    or (stamp.need_rows, stamp.need_newest, stamp.segment_rows,
                        stamp.segment_newest) != (last_stamp.need_rows, last_stamp.need_newest,
                                                  last_stamp.segment_rows,
                                                  last_stamp.segment_newest)
                    or time.monotonic() - self.loaded >= FULL_REFRESH_S):
                self._load_all(store, bulk)
            else:
                if mark.customer_updated != last.customer_updated:
                    self._apply_customers(bulk.customers(self.tid, last.customer_updated))
                if mark.event_id > last.event_id:
                    self._apply_rejections(bulk.rejections(self.tid, REJECTED,
                                                           after_id=last.event_id))
            if last is not None and mark.list_id != last.list_id:
                self._reset(lists=True)
            if last_stamp is not None and (stamp.item_rows, stamp.item_newest) != (
                    last_stamp.item_rows, last_stamp.item_newest):
                self._reset(items=True)
            self.mark, self.stamp = mark, stamp
            self.polled = time.monotonic()
        finally:
            self.lock.release()

    def _load_all(self, store: Store, bulk: BulkCustomers) -> None:
        records = {r.customer_id: r for r in bulk.customers(self.tid)}
        segments = store.bulk.segments(self.tid)
        needs = bulk.need_scores(self.tid)
        rows = bulk.rejections(self.tid, REJECTED)
        rejections: dict[str, Rejections] = {}
        for r in rows:
            rejections.setdefault(r.customer_id, []).append((r.ts, r.id, r.action))
        for found in rejections.values():
            found.sort(reverse=True)
        changed = [c for c in {*records, *self.records, *segments, *self.segments, *needs,
                               *self.needs, *rejections, *self.rejections}
                   if (records.get(c), segments.get(c), needs.get(c), rejections.get(c))
                   != (self.records.get(c), self.segments.get(c), self.needs.get(c),
                       self.rejections.get(c))]
        self.records, self.segments, self.needs = records, segments, needs
        self.rejections, self._seen = rejections, {r.id for r in rows}
        for customer_id in changed:  # answers of everyone else stay valid
            self._changed(customer_id)
        self.loaded = time.monotonic()

    def _reset(self, *, lists: bool = False, items: bool = False) -> None:
        if lists:
            self.lists = {}
        if items:
            self.items = {}
        self.contexts = {}
        self.answers = {}
        self.version += 1

    def _changed(self, customer_id: str) -> None:
        self.contexts.pop(customer_id, None)
        self.answers.pop(customer_id, None)
        self.version += 1

    def _apply_customers(self, rows: list[CustomerFields]) -> None:
        for row in rows:
            if self.records.get(row.customer_id) != row:
                self.records[row.customer_id] = row
                self._changed(row.customer_id)

    def _apply_rejections(self, rows: list[Any]) -> None:
        for r in rows:
            if r.id in self._seen:
                continue
            self._seen.add(r.id)
            found = self.rejections.setdefault(r.customer_id, [])
            found.append((r.ts, r.id, r.action))
            found.sort(reverse=True)
            self._changed(r.customer_id)

    # -- reading ----------------------------------------------------------------------------
    def known(self, store: Store, customer_id: str) -> None:
        """Make sure the customer is held (a customer created in the last ``POLL_S`` through
        another worker is read from the store); NotFoundError when the store has none."""
        if canonical(customer_id) in self.records:
            return
        record = store.customers.get(self.tid, customer_id)  # NotFoundError if unknown
        scores = store.need_scores.for_customer(self.tid, customer_id)
        with self.lock:
            self.records.setdefault(record.customer_id, CustomerFields(
                record.customer_id, record.consent_personalization, record.consent_marketing,
                dict(record.attributes), record.updated_at, record.consent_profiling))
            self.segments.setdefault(customer_id,
                                     store.segments.of_customer(self.tid, customer_id))
            self.needs.setdefault(customer_id, {n: (float(r.score), r.source)
                                                for n, r in scores.items()})
            self._changed(customer_id)

    def context(self, customer_id: str) -> RuleContext:
        """The customer's rule context (no request context), built once per change."""
        found = self.contexts.get(customer_id)
        if found is not None:
            return found
        record = self.records[canonical(customer_id)]
        segments = self.segments.get(customer_id, {})
        # profiling denied: their need scores are not used (as GET .../needs withholds them)
        scores = {} if record.consent_profiling == "denied" else \
            self.needs.get(customer_id, {})
        found = RuleContext(
            customer=customer_fields_view(record.customer_id, record.consent_personalization,
                                          record.consent_marketing, record.attributes,
                                          segments),
            needs={n: s for n, (s, _) in scores.items()}, segments=dict(segments),
            context={}, need_sources={n: src for n, (_, src) in scores.items()})
        self.contexts[customer_id] = found
        return found

    def strategy_lists(self, store: Store, strategy: str) -> dict[str, list[Any]]:
        """Every stored list of ``strategy`` (read once per change of the lists)."""
        found = self.lists.get(strategy)
        if found is None:
            found = dict(store.bulk.lists(self.tid, strategy))
            self.lists[strategy] = found
        return found

    def item_view(self, store: Store, item_id: str) -> dict[str, Any] | None:
        """The rule view of an item (None when the tenant has none), read once per change."""
        if item_id not in self.items:
            record = store.items.find(self.tid, item_id)
            self.items[item_id] = None if record is None else item_record_view(record)
        return self.items[item_id]


class _CatalogCache:
    """``(tenant, name)`` → the newest catalog, for ``ttl`` seconds (a missing one is not
    remembered: it is read again, so a catalog saved anywhere serves at once)."""

    def __init__(self, store: Store, ttl: float) -> None:
        self._store = store
        self._ttl = ttl
        self._found: dict[tuple[int, str], tuple[float, ActionCatalog]] = {}
        self._lock = threading.Lock()

    def peek(self, tid: int, name: str) -> ActionCatalog | None:
        """The cached catalog while its TTL lasts (no store read), else None."""
        cached = self._found.get((tid, name))
        if cached is None or cached[0] <= time.monotonic():
            return None
        return cached[1]

    def get(self, tid: int, name: str) -> ActionCatalog:
        key = (tid, name)
        cached = self._found.get(key)
        if cached is None or cached[0] <= time.monotonic():
            try:
                value = load_catalog(self._store.configs, tid, name)
            except TailorCRMError:  # an unknown catalog is read again by the next request
                with self._lock:
                    self._found.pop(key, None)
                raise
            if cached is not None and cached[1] == value:
                value = cached[1]  # the same object: answers made with it stay valid
            cached = (time.monotonic() + self._ttl, value)
            with self._lock:
                self._found[key] = cached
        return cached[1]

    def forget(self, tid: int) -> None:
        """Read the tenant's catalogs again on their next use (kept to compare: an unchanged
        catalog stays the same object, so the answers made with it stay valid)."""
        with self._lock:
            for key in [k for k in self._found if k[0] == tid]:
                self._found[key] = (0.0, self._found[key][1])


class ActionsCache:
    """Per-worker next-best-action state of every tenant (see the module docstring)."""

    def __init__(self, store: Store, catalog_ttl: float = CATALOG_TTL_S) -> None:
        self._store = store
        self._bulk = BulkCustomers(store.engine)
        self._catalogs = _CatalogCache(store, catalog_ttl)
        self._tenants: dict[int, TenantActions] = {}
        self._guard = threading.Lock()

    def touch(self, tid: int) -> None:
        """A write of tenant ``tid`` went through this worker: read its catalogs and change
        marks again on the next request."""
        self._catalogs.forget(tid)
        state = self._tenants.get(tid)
        if state is not None:
            state.polled = 0.0

    def tenant(self, tid: int) -> TenantActions:
        """The tenant's state, synced with the change feed."""
        state = self._tenants.get(tid)
        if state is None:
            with self._guard:
                state = self._tenants.setdefault(tid, TenantActions(tid))
        state.sync(self._store, self._bulk)
        return state

    def inputs(self, tid: int, customer_id: str, catalog: str = "default",
               context: Mapping[str, Any] | None = None) -> tuple[ActionInputs, int]:
        """The customer's :class:`ActionInputs` and the state version they were read at.

        NotFoundError for an unknown catalog or customer, as the store path raises them.
        """
        cat = self._catalogs.get(tid, catalog)
        state = self.tenant(tid)
        version = state.version
        state.known(self._store, customer_id)
        ctx = state.context(customer_id)
        if context:
            ctx = RuleContext(customer=ctx.customer, needs=ctx.needs, segments=ctx.segments,
                              context=dict(context), need_sources=ctx.need_sources)
        lists: dict[str, list[Any]] = {}
        wanted: set[str] = {i for a in cat.actions for i in a.linked_items}
        for strategy in {a.strategy for a in cat.actions if a.strategy}:
            entries = list(self.strategy_list(state, strategy, customer_id))
            lists[strategy] = entries
            wanted |= {e if isinstance(e, str) else str(e.get("item_id")) for e in entries}
        views = {}
        for item_id in sorted(wanted):
            view = state.item_view(self._store, item_id)
            if view is not None:
                views[item_id] = view
        rejections = [(ts, action) for ts, _, action in state.rejections.get(customer_id, [])]
        return ActionInputs(cat, ctx, lists, views, rejections), version

    def strategy_list(self, state: TenantActions, strategy: str,
                      customer_id: str) -> list[Any]:
        """The customer's stored list of ``strategy`` (empty when none)."""
        return state.strategy_lists(self._store, strategy).get(customer_id, [])

    def known(self, tid: int, customer_id: str) -> None:
        """NotFoundError when the tenant has no such customer."""
        self.tenant(tid).known(self._store, customer_id)

    def catalog(self, tid: int, name: str) -> ActionCatalog:
        """The tenant's newest catalog ``name`` (read at most once per TTL)."""
        return self._catalogs.get(tid, name)

    # -- answers ----------------------------------------------------------------------------
    def answer(self, tid: int, customer_id: str, catalog: str, limit: int | None,
               now: dt.datetime) -> bytes | None:
        """A body answered before from what is still current, else None; never reads the
        store (None as well when a mark or the catalog is due for reading)."""
        state = self._tenants.get(tid)
        if state is None or not state.fresh:
            return None
        return self._kept(state, customer_id, catalog, limit, now)

    def answer_synced(self, tid: int, customer_id: str, catalog: str, limit: int | None,
                      now: dt.datetime) -> bytes | None:
        """:meth:`answer` after reading the marks and the catalog when they are due."""
        self._catalogs.get(tid, catalog)
        return self._kept(self.tenant(tid), customer_id, catalog, limit, now)

    def _kept(self, state: TenantActions, customer_id: str, catalog: str, limit: int | None,
              now: dt.datetime) -> bytes | None:
        cat = self._catalogs.peek(state.tid, catalog)
        found = state.answers.get(customer_id, {}).get((catalog, limit))
        if (found is None or cat is None or found.catalog is not cat
                or (found.valid_until is not None and now >= found.valid_until)):
            return None
        return found.body

    def remember(self, tid: int, customer_id: str, catalog: str, limit: int | None,
                 inputs: ActionInputs, version: int, valid_until: dt.datetime | None,
                 body: bytes) -> None:
        """Keep a body made from ``inputs`` at state ``version`` (dropped when it moved)."""
        state = self._tenants.get(tid)
        if state is None:
            return
        with state.lock:
            if state.version != version:
                return  # something changed while the answer was made
            if len(state.answers) >= MAX_ANSWERS:
                state.answers = {}
            state.answers.setdefault(customer_id, {})[(catalog, limit)] = Answer(
                version, inputs.catalog, valid_until, body)
