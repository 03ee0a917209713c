"""Per-tenant cache of the active models, each swapped atomically when a new version activates."""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from dataclasses import replace
from pathlib import Path

import pandas as pd

from tailorcrm.data.dataset import Dataset
from tailorcrm.data.vocab import Vocabulary
from tailorcrm.errors import StorageError
from tailorcrm.jobs.train import RECOMMENDER_NAME, config_hash
from tailorcrm.recommend.popularity import Popularity
from tailorcrm.recommend.ranking import Ranker, RankingConfig, load_ranking_config
from tailorcrm.recommend.registry import load_model
from tailorcrm.serving.actions_cache import ActionsCache
from tailorcrm.serving.strategy_cache import StrategyCache
from tailorcrm.serving.tenant_model import POLL_S, TenantModel
from tailorcrm.store import Store
from tailorcrm.store.model_store import read_vocab, save_vocab, scrub_vocab
from tailorcrm.store.models import ModelRecord

__all__ = ["ACTIVE_TTL_S", "POLL_S", "ModelCache", "TenantModel", "aligned_dataset",
           "save_vocab", "scrub_vocab"]

log = logging.getLogger(__name__)

ACTIVE_TTL_S = 1.0  # how long a read of the active version is trusted (activation delay)
LOAD_RETRY_S = 30.0  # after a failed model load, wait this long before trying that version again


def aligned_dataset(data: Dataset, path: str | Path, cutoff: dt.datetime | None) -> Dataset | None:
    """``data`` cut to the model's vocabularies and to events up to ``cutoff``.

    None when the artifact has no vocabulary file.
    """
    vocab = read_vocab(path)
    if vocab is None:
        return None
    customers, items = vocab["customers"], vocab["items"]
    events = data.events
    if cutoff is not None and len(events):
        events = events[events["ts"] <= pd.Timestamp(cutoff)]
    return replace(data, customers=data.customers[data.customers.index.isin(customers)],
                   items=data.items[data.items.index.isin(items)], events=events,
                   customer_vocab=Vocabulary(customers), item_vocab=Vocabulary(items))


Key = tuple[int, str]  # (tenant, model name in the registry)


class ModelCache:
    """The active models of each tenant (its recommender, strategies' own models), loaded once
    per version.

    A request reads the active version from the registry (at most once per ``ACTIVE_TTL_S``
    per tenant and name); when it changed, one thread loads the new version while the others
    keep serving the old one, then the entry is replaced in one assignment (atomic under the
    GIL), so activation never fails a request.
    """

    def __init__(self, store: Store) -> None:
        self._store = store
        self._entries: dict[Key, TenantModel] = {}
        self._active: dict[Key, tuple[float, ModelRecord | None]] = {}
        self._locks: dict[Key, threading.Lock] = {}
        self._guard = threading.Lock()
        # (tenant, name) -> (retry after [monotonic], version, reason) of a failed load
        self._failures: dict[Key, tuple[float, str, str]] = {}
        self._loaded_any = False
        self.strategies = StrategyCache(store)
        self.actions = ActionsCache(store)  # next best actions' inputs and kept answers

    @property
    def failures(self) -> dict[int, dict[str, str]]:
        """Tenants whose active model failed to load last time, with version and reason."""
        return {tid: {"version": v, "reason": r}
                for (tid, _), (_, v, r) in self._failures.items()}

    @property
    def healthy(self) -> bool:
        """False when model loads were tried and every one of them failed."""
        return self._loaded_any or not self._failures

    def install(self, tid: int, entry: TenantModel, name: str = RECOMMENDER_NAME) -> None:
        """Swap in a model built elsewhere (the training job of this process)."""
        key = (tid, name)
        self._entries[key] = entry
        self._failures.pop(key, None)
        self._loaded_any = True
        self._active.pop(key, None)  # read the registry again on the next request
        log.info("tenant %d now serves %s %s", tid, name, entry.version)

    def touch(self, tid: int) -> None:
        """A write of tenant ``tid`` went through this process: its loaded models read the
        change feed (and the registry) on their next request."""
        for key, entry in list(self._entries.items()):
            if key[0] == tid:
                entry.touch()
        for key in [k for k in self._active if k[0] == tid]:
            self._active.pop(key, None)
        self.strategies.forget(tid)
        self.actions.touch(tid)

    def peek(self, tid: int, name: str = RECOMMENDER_NAME) -> TenantModel | None:
        """The loaded model when its active version was read within ``ACTIVE_TTL_S``; None
        otherwise. No I/O (the request fast path)."""
        key = (tid, name)
        active = self._active.get(key)
        entry = self._entries.get(key)
        if active is None or active[0] <= time.monotonic() or entry is None or \
                active[1] is None or active[1].version != entry.version:
            return None
        return entry

    def get(self, tid: int, name: str = RECOMMENDER_NAME) -> TenantModel | None:
        """The tenant's loaded active model ``name``, loading it when the version changed,
        with the change feed applied (:meth:`TenantModel.sync`)."""
        entry = self._get(tid, name)
        if entry is not None:
            entry.sync(self._store, tid)
        return entry

    def _get(self, tid: int, name: str) -> TenantModel | None:
        key = (tid, name)
        active = self._active_record(key)
        current = self._entries.get(key)
        if active is None:
            return current
        if current is not None and current.version == active.version:
            return current
        with self._guard:
            lock = self._locks.setdefault(key, threading.Lock())
        failed = self._failures.get(key)
        if failed is not None and failed[1] == active.version and failed[0] > time.monotonic():
            if current is not None:
                return current  # keep serving the version that loaded
            raise StorageError(f"the tenant's model {active.version} could not be loaded "
                               f"({failed[2]}); retrying shortly",
                               retry_after=round(failed[0] - time.monotonic(), 1))
        if not lock.acquire(blocking=current is None):
            return current  # another thread is loading the new version: serve the old one
        try:
            current = self._entries.get(key)
            if current is not None and current.version == active.version:
                return current
            try:
                entry = self._load(tid, active)
            except Exception as exc:  # one tenant's broken model never fails the process
                reason = f"{type(exc).__name__}: {exc}"[:300]
                log.exception("tenant %d: model %s failed to load", tid, active.version)
                self._failures[key] = (time.monotonic() + LOAD_RETRY_S, active.version, reason)
                if current is not None:
                    return current
                raise StorageError(f"the tenant's model {active.version} could not be "
                                   f"loaded ({reason}); retrying shortly",
                                   retry_after=LOAD_RETRY_S) from None
            self._failures.pop(key, None)
            self._loaded_any = True
            self.install(tid, entry, name)
            return entry
        finally:
            lock.release()

    def _active_record(self, key: Key) -> ModelRecord | None:
        now = time.monotonic()
        cached = self._active.get(key)
        if cached is not None and cached[0] > now:
            return cached[1]
        record = self._store.models.active(*key)
        self._active[key] = (now + ACTIVE_TTL_S, record)
        return record

    def _load(self, tid: int, record: ModelRecord) -> TenantModel:
        path, version = record.path, record.version
        data = self._store.load_dataset(tid)
        data = aligned_dataset(data, path, record.created_at) or data
        model = load_model(path)
        degraded = (getattr(model, "n_items_", -1), getattr(model, "n_customers_", -1)) != (
            data.n_items, data.n_customers)
        if degraded:
            # Artifacts carry no vocabulary: data changed since training cannot be aligned
            # with the model's indices, so serve popularity until the next training run.
            log.warning("tenant %d: data changed since model %s was trained; serving "
                        "popularity until the next training run", tid, version)
            model = Popularity().fit(data)
        # the repeat policy and label the model was chosen with (older artifacts: defaults)
        ranking = load_ranking_config(path) or RankingConfig()
        entry = TenantModel(version, record.config_hash or config_hash(ranking),
                            Ranker(model, data, ranking), cutoff=record.created_at,
                            degraded=degraded)
        entry.ranker.prepare()  # built before the swap, not by the first request after it
        entry.sync(self._store, tid)
        return entry
