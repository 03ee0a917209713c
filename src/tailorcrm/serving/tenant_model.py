"""One loaded model version of one tenant: its pipelines, live events and change-feed state.

Everything a request needs is here in memory: the fitted model and its data, one
:class:`~tailorcrm.customize.pipeline.Pipeline` per strategy served with it, each strategy's
fresh precomputed lists (:class:`~tailorcrm.serving.lists.ListCache`), and what changed since
training (events folded in, consent changes, customers created or erased), kept current by
:meth:`TenantModel.sync` from the store's change feed at most once per ``POLL_S``.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import sparse
from sklearn.preprocessing import normalize

from tailorcrm.customize.pipeline import Pipeline
from tailorcrm.customize.precompute import pipeline_hash
from tailorcrm.customize.rules import RuleSet
from tailorcrm.customize.strategies import Strategy
from tailorcrm.data.dataset import Dataset
from tailorcrm.recommend.ranking import Ranker, top_k
from tailorcrm.serving.lists import ListCache
from tailorcrm.store import Store
from tailorcrm.store.changes import EventRow, Mark

log = logging.getLogger(__name__)

#: Lists scored online kept per loaded model (until their customer changes again).
ONLINE_LISTS = 50_000
#: How often a worker reads the tenant's change marks (four indexed reads). A write through
#: this worker is seen at once (it calls :meth:`TenantModel.touch`); a write through another
#: worker or an import is seen within this bound.
POLL_S = 0.5


@dataclass
class TenantModel:
    """A tenant's loaded model version and what serving keeps of it in memory.

    ``cutoff`` is when the model's training data was read; stored events after it are live
    events, folded into the customer's next online list.
    """

    version: str
    config_hash: str
    ranker: Ranker
    cutoff: dt.datetime | None = None
    degraded: bool = False
    _pipelines: dict[str, tuple[str, Pipeline]] = field(default_factory=dict, repr=False)
    # strategy name -> (strategy, rules, hash, pipeline) of the last lookup: the strategy
    # cache hands out the same objects until a strategy changes, so identity is the check
    _last: dict[str, tuple[Strategy, RuleSet, str, Pipeline]] = field(default_factory=dict,
                                                                      repr=False)
    _lists: dict[str, ListCache] = field(default_factory=dict, repr=False)
    _lock: threading.RLock = field(default_factory=threading.RLock, repr=False)
    _seen: set[str] = field(default_factory=set, repr=False)  # idempotency keys folded in
    _changed: set[str] = field(default_factory=set, repr=False)  # lists out of date
    _created: set[str] = field(default_factory=set, repr=False)  # customers new since training
    _erased: set[str] = field(default_factory=set, repr=False)  # hashes erased since loading
    _by_hash: dict[str, str] | None = field(default=None, repr=False)
    _mark: Mark | None = field(default=None, repr=False)
    # lists scored online, kept until the customer changes again: (strategy, hash, customer,
    # n, reasons) -> (the customer's change count then, JSON), newest last, bounded
    _online: OrderedDict[tuple[str, str, str, int, bool], tuple[int, bytes]] = field(
        default_factory=OrderedDict, repr=False)
    _seq: dict[str, int] = field(default_factory=dict, repr=False)  # changes per customer
    _polled: float = field(default=0.0, repr=False)
    _item_sim: sparse.csc_matrix | None = field(default=None, repr=False)

    @property
    def data(self) -> Dataset:
        """The Dataset the model was fitted on."""
        return self.ranker.data

    # -- pipelines and lists ----------------------------------------------------------------
    def pipeline(self, strategy: Strategy, rules: RuleSet) -> tuple[Pipeline, str]:
        """The strategy's pipeline over this model and its config hash, built once per
        strategy config (a ranker of the same ranking config is shared)."""
        last = self._last.get(strategy.name)
        if last is not None and last[0] is strategy and last[1] is rules:
            return last[3], last[2]
        built = Pipeline.build(strategy, self.ranker.model, self.data, rules=rules,
                               chosen=self.ranker.config, ranker=self.ranker)
        chash = pipeline_hash(strategy, rules, built.ranker.config)
        with self._lock:
            found = self._pipelines.get(strategy.name)
            if found is not None and found[0] == chash:
                self._last[strategy.name] = (strategy, rules, chash, found[1])
                return found[1], chash
            if built.ranker is not self.ranker:  # a ranker of its own: hand it what changed
                self._catch_up(built.ranker)
            built.prepare()
            self._pipelines[strategy.name] = (chash, built)
            self._last[strategy.name] = (strategy, rules, chash, built)
            return built, chash

    def _rankers(self) -> list[Ranker]:
        rankers = {id(self.ranker): self.ranker}
        for _, p in self._pipelines.values():
            rankers[id(p.ranker)] = p.ranker
        return list(rankers.values())

    def _catch_up(self, ranker: Ranker) -> None:
        """A ranker built after loading: the live events, consent and erasures seen so far."""
        base = self.ranker
        if base._live:
            ranker.add_events(pd.concat(list(base._live.events.values()), ignore_index=True))
        for cid, allowed in base._consent.items():
            ranker.set_consent(cid, allowed)
        for cid in base._forgotten:
            ranker.forget(cid)

    def lists(self, store: Store, tid: int, strategy: str, chash: str,
              model_version: str | None = None) -> ListCache:
        """The strategy's fresh precomputed lists (made by ``model_version``, this version by
        default, with config ``chash``), read from the store once."""
        version = model_version or self.version
        found = self._lists.get(strategy)
        if found is not None and (found.model_version, found.config_hash) == (version, chash):
            return found
        with self._lock:
            found = self._lists.get(strategy)
            if found is None or (found.model_version, found.config_hash) != (version, chash):
                found = ListCache(version, chash, store.bulk.lists(
                    tid, strategy, model_version=version, config_hash=chash))
                found.drop(list(self.ranker._forgotten))
                self._lists[strategy] = found
            return found

    def ready_list(self, strategy: Strategy, rules: RuleSet, customer_id: str, n: int
                   ) -> tuple[bytes, str] | None:
        """``(JSON, source)`` of the customer's list when it is ready in memory and current —
        the change feed read within ``POLL_S``, the strategy's pipeline loaded, and either a
        list scored online since the customer's last change or their fresh precomputed list
        — else None. Does no I/O, so a request can take it on the event loop."""
        if time.monotonic() - self._polled >= POLL_S:
            return None
        last = self._last.get(strategy.name)
        if last is None or last[0] is not strategy or last[1] is not rules:
            return None
        online = self.online_list(strategy.name, last[2], customer_id, n, True)
        if online is not None:
            return online, "online"
        if customer_id in self._changed or self.ranker.customer_index(customer_id) < 0:
            return None
        lists = self._lists.get(strategy.name)
        if lists is None or (lists.model_version, lists.config_hash) != (self.version, last[2]):
            return None
        found = lists.items_json(customer_id, n)
        return None if found is None else (found, "precomputed")

    def online_list(self, strategy: str, chash: str, customer_id: str, n: int,
                    reasons: bool) -> bytes | None:
        """A list scored online for the customer since their last change, if kept."""
        found = self._online.get((strategy, chash, customer_id, n, reasons))
        if found is None or found[0] != self._seq.get(customer_id, 0):
            return None
        return found[1]

    def keep_online(self, strategy: str, chash: str, customer_id: str, n: int, reasons: bool,
                    body: bytes) -> None:
        """Keep a list scored online until the customer changes again (at most
        ``ONLINE_LISTS`` lists, the oldest dropped first)."""
        with self._lock:
            self._online[(strategy, chash, customer_id, n, reasons)] = (
                self._seq.get(customer_id, 0), body)
            while len(self._online) > ONLINE_LISTS:
                self._online.popitem(last=False)

    def _bump(self, customer_ids: Iterable[str]) -> None:
        for cid in customer_ids:
            self._seq[cid] = self._seq.get(cid, 0) + 1
            self._changed.add(cid)

    # -- what changed -----------------------------------------------------------------------
    def changed(self, customer_id: str) -> bool:
        """True when the customer's precomputed lists are out of date (events or consent
        changed since they were made)."""
        return customer_id in self._changed

    def known(self, customer_id: str) -> bool | None:
        """True: a customer of the model or created since; False: erased; None: unknown here
        (the caller asks the store)."""
        if customer_id in self.ranker._forgotten:
            return False
        if self.ranker.customer_index(customer_id) >= 0 or customer_id in self._created:
            return True
        return None

    def erased(self, customer_id: str, hasher: Callable[[str], str]) -> bool:
        """True when the customer was erased after this model was loaded."""
        return bool(self._erased) and hasher(customer_id) in self._erased

    def touch(self) -> None:
        """Read the change feed on the next request (a write went through this process)."""
        self._polled = 0.0

    def sync(self, store: Store, tid: int) -> None:
        """Apply what changed in the store since the last read, at most once per ``POLL_S``
        (or at once after :meth:`touch`)."""
        now = time.monotonic()
        if now - self._polled < POLL_S:
            return
        with self._lock:
            if time.monotonic() - self._polled < POLL_S:
                return
            mark = store.changes.mark(tid)
            last = self._mark
            if last is None:  # the first read: everything since training
                self._apply_events(store.changes.events_since(tid, after_ts=self.cutoff))
                self._apply_customers(store, tid, self.cutoff)
                self._apply_erasures(store, tid, 0)
            else:
                if mark.event_id > last.event_id:
                    self._apply_events(store.changes.events_since(
                        tid, after_id=last.event_id, after_ts=self.cutoff))
                if mark.customer_updated != last.customer_updated:
                    self._apply_customers(store, tid, last.customer_updated)
                if mark.tombstone_id > last.tombstone_id:
                    self._apply_erasures(store, tid, last.tombstone_id)
                if mark.list_id != last.list_id:  # lists were replaced: read them again
                    self._lists.clear()
            self._mark = mark
            self._polled = time.monotonic()

    def _apply_events(self, rows: list[EventRow]) -> None:
        new = [r for r in rows if r.idempotency_key not in self._seen]
        if not new:
            return
        frame = pd.DataFrame({"customer_id": [r.customer_id for r in new],
                              "item_id": [r.item_id for r in new],
                              "type": [r.type for r in new],
                              "value": [r.value for r in new],
                              "ts": [r.ts for r in new]})
        for ranker in self._rankers():
            ranker.add_events(frame)
        self._seen.update(r.idempotency_key for r in new)
        self._bump({r.customer_id for r in new})

    def _apply_customers(self, store: Store, tid: int, since: dt.datetime | None) -> None:
        allowed = self.ranker._allowed  # consent at training, computed once by the ranker
        rankers = self._rankers()
        for change in store.changes.customers_since(tid, since):
            cid = change.customer_id
            idx = self.data.customer_vocab.index_of(cid)
            if idx < 0:
                self._created.add(cid)
            consent = change.consent_personalization != "denied"
            trained = bool(allowed[idx]) if idx >= 0 else True
            if consent != trained or cid in self.ranker._consent:
                for ranker in rankers:
                    ranker.set_consent(cid, consent)
                self._bump([cid])

    def _apply_erasures(self, store: Store, tid: int, after: int) -> None:
        hashes = store.changes.erased_since(tid, after)
        if not hashes:
            return
        self._erased |= hashes
        if self._by_hash is None:  # one keyed hash per customer of the model, once
            hasher = store.tombstones.hasher(tid)
            self._by_hash = {hasher(str(c)): str(c) for c in self.data.customer_vocab.ids}
        gone = [self._by_hash[h] for h in hashes if h in self._by_hash]
        for ranker in self._rankers():
            for cid in gone:
                ranker.forget(cid)
        for cache in self._lists.values():
            cache.drop(gone)
        self._created -= set(gone)
        self._bump(gone)

    # -- similar items ----------------------------------------------------------------------
    def similar(self, item_id: str, n: int) -> list[tuple[str, float]]:
        """Items most often chosen by the same customers (cosine over the interaction matrix).

        Computed here because not every model has item-item similarities (hybrids, MF); a
        column-normalized co-occurrence is the classic item-to-item answer (Amazon 2003).
        """
        idx = self.data.item_vocab.index_of(item_id)
        if idx < 0:
            return []
        if self._item_sim is None:
            matrix = self.data.interaction_matrix(weighting="count")
            self._item_sim = sparse.csc_matrix(normalize(matrix.tocsc(), axis=0))
        sim = self._item_sim
        scores = np.asarray((sim.T @ sim[:, idx]).toarray()).ravel().astype(np.float64)
        scores[idx] = np.nan
        scores[scores <= 0] = np.nan
        best = top_k(scores, n)[0]
        return [(self.data.item_vocab.id(int(i)), float(scores[i])) for i in best[best >= 0]]
