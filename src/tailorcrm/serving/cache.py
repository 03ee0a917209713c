"""Per-tenant cache of the active recommender, swapped atomically when a new version activates."""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import sparse
from sklearn.preprocessing import normalize
from sqlalchemy import select

from tailorcrm.data.dataset import Dataset
from tailorcrm.data.vocab import Vocabulary
from tailorcrm.errors import StorageError
from tailorcrm.jobs.train import RECOMMENDER_NAME, config_hash
from tailorcrm.recommend.popularity import Popularity
from tailorcrm.recommend.ranking import Ranker, RankingConfig, load_ranking_config, top_k
from tailorcrm.recommend.registry import load_model
from tailorcrm.schema.time_window import latest_event_time
from tailorcrm.store import Store
from tailorcrm.store.base import as_utc
from tailorcrm.store.models import ModelRecord
from tailorcrm.store.tables import Event

log = logging.getLogger(__name__)

ACTIVE_TTL_S = 1.0  # how long a read of the active version is trusted (activation delay)
FOLD_IN_LOOKBACK = 200  # newest events read per request to find those newer than training
VOCAB_FILE = "vocab.json"
LOAD_RETRY_S = 30.0  # after a failed model load, wait this long before trying that version again
ERASED_PREFIX = "\x1ferased:"  # an erased id's placeholder in a vocabulary (no real id)


def save_vocab(path: str | Path, data: Dataset) -> None:
    """Write the training data's id vocabularies beside a model artifact.

    Artifacts hold arrays by index only; with the vocabularies a server can line up the
    tenant's current data with the model's indices even after customers and items were added.
    """
    body = {"customers": [str(c) for c in data.customer_vocab.ids],
            "items": [str(i) for i in data.item_vocab.ids]}
    (Path(path) / VOCAB_FILE).write_text(json.dumps(body))


def scrub_vocab(path: str | Path, erased: set[str], hasher: Callable[[str], str]) -> int:
    """Replace, in the vocabulary file beside an artifact, the customer ids whose keyed hash
    is in ``erased`` by placeholders (indices stay aligned with the model's arrays).

    Returns how many ids were replaced.
    """
    file = Path(path) / VOCAB_FILE
    if not erased or not file.is_file():
        return 0
    body = json.loads(file.read_text())
    customers = body["customers"]
    gone = [i for i, c in enumerate(customers) if hasher(str(c)) in erased]
    for i in gone:
        customers[i] = f"{ERASED_PREFIX}{i}"
    if gone:
        file.write_text(json.dumps(body))
    return len(gone)


def aligned_dataset(data: Dataset, path: str | Path, cutoff: dt.datetime | None) -> Dataset | None:
    """``data`` cut to the model's vocabularies and to events up to ``cutoff``.

    None when the artifact has no vocabulary file.
    """
    file = Path(path) / VOCAB_FILE
    if not file.is_file():
        return None
    vocab = json.loads(file.read_text())
    customers, items = vocab["customers"], vocab["items"]
    events = data.events
    if cutoff is not None and len(events):
        events = events[events["ts"] <= pd.Timestamp(cutoff)]
    return replace(data, customers=data.customers[data.customers.index.isin(customers)],
                   items=data.items[data.items.index.isin(items)], events=events,
                   customer_vocab=Vocabulary(customers), item_vocab=Vocabulary(items))


@dataclass
class TenantModel:
    """One loaded model version of one tenant: the ranker and what it was built from.

    ``cutoff`` is when the model's training data was read; stored events after it are
    folded in at request time (:meth:`fold_in`).
    """

    version: str
    config_hash: str
    ranker: Ranker
    cutoff: dt.datetime | None = None
    degraded: bool = False
    _folded: dict[str, set[str]] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _item_sim: sparse.csc_matrix | None = field(default=None, repr=False)
    _lean: Ranker | None = field(default=None, repr=False)

    @property
    def data(self) -> Dataset:
        """The Dataset the ranker was built on."""
        return self.ranker.data

    def lean_ranker(self) -> Ranker:
        """The same ranker without reasons (explanations cost most of an online list).

        It shares the live events of :attr:`ranker`, so fold-in reaches both.
        """
        if self._lean is None:
            base = self.ranker
            lean = Ranker(base.model, base.data,
                          base.config.model_copy(update={"max_reasons": 0}), base.fallback)
            lean._live = base._live  # one live-event store for both rankers
            self._lean = lean
        return self._lean

    def fold_in(self, store: Store, tid: int, customer_id: str) -> bool:
        """Hand the customer's stored events newer than the data to the ranker.

        Returns True when the customer has such live events (a precomputed list is then
        out of date for them).
        """
        stmt = select(Event.idempotency_key, Event.customer_id, Event.item_id, Event.type,
                      Event.value, Event.ts).where(Event.tenant_id == tid,
                                                   Event.customer_id == customer_id)
        if self.cutoff is not None:  # UTC; SQLite stores UTC without offset, so both compare
            stmt = stmt.where(Event.ts > self.cutoff)
        # events stored before times were checked may lie beyond the window: never fold in
        stmt = stmt.where(Event.ts <= latest_event_time())
        stmt = stmt.order_by(Event.ts.desc()).limit(FOLD_IN_LOOKBACK)
        with store.engine.connect() as conn:
            fresh = conn.execute(stmt).all()
        if not fresh:
            return customer_id in self._folded
        with self._lock:
            seen = self._folded.setdefault(customer_id, set())
            new = [r for r in fresh if r.idempotency_key not in seen]
            if new:
                frame = pd.DataFrame([{"customer_id": r.customer_id, "item_id": r.item_id,
                                       "type": r.type, "value": r.value, "ts": as_utc(r.ts)}
                                      for r in new])
                self.ranker.add_events(frame)
                seen.update(r.idempotency_key for r in new)
        return True

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


class ModelCache:
    """The active recommender of each tenant, loaded once per version.

    A request reads the active version from the registry (at most once per
    ``ACTIVE_TTL_S`` per tenant); when it changed, one thread loads the new version while the
    others keep serving the old one, then the entry is replaced in one assignment (atomic under
    the GIL), so activation never fails a request.
    """

    def __init__(self, store: Store) -> None:
        self._store = store
        self._entries: dict[int, TenantModel] = {}
        self._active: dict[int, tuple[float, ModelRecord | None]] = {}
        self._locks: dict[int, threading.Lock] = {}
        self._guard = threading.Lock()
        # tenant -> (retry after [monotonic], version, reason) of a model that failed to load
        self._failures: dict[int, tuple[float, str, str]] = {}
        self._loaded_any = False

    @property
    def failures(self) -> dict[int, dict[str, str]]:
        """Tenants whose active model failed to load last time, with version and reason."""
        return {tid: {"version": v, "reason": r} for tid, (_, v, r) in self._failures.items()}

    @property
    def healthy(self) -> bool:
        """False when model loads were tried and every one of them failed."""
        return self._loaded_any or not self._failures

    def install(self, tid: int, entry: TenantModel) -> None:
        """Swap in a ranker built elsewhere (the training job of this process)."""
        self._entries[tid] = entry
        self._failures.pop(tid, None)
        self._loaded_any = True
        self._active.pop(tid, None)  # read the registry again on the next request
        log.info("tenant %d now serves model %s", tid, entry.version)

    def get(self, tid: int) -> TenantModel | None:
        """The tenant's loaded active model, loading it when the version changed."""
        active = self._active_record(tid)
        current = self._entries.get(tid)
        if active is None:
            return current
        if current is not None and current.version == active.version:
            return current
        with self._guard:
            lock = self._locks.setdefault(tid, threading.Lock())
        failed = self._failures.get(tid)
        if failed is not None and failed[1] == active.version and failed[0] > time.monotonic():
            if current is not None:
                return current  # keep serving the version that loaded
            raise StorageError(f"the tenant's model {active.version} could not be loaded "
                               f"({failed[2]}); retrying shortly",
                               retry_after=round(failed[0] - time.monotonic(), 1))
        if not lock.acquire(blocking=current is None):
            return current  # another thread is loading the new version: serve the old one
        try:
            current = self._entries.get(tid)
            if current is not None and current.version == active.version:
                return current
            try:
                entry = self._load(tid, active.version, active.path, active.config_hash,
                                   active.created_at)
            except Exception as exc:  # one tenant's broken model never fails the process
                reason = f"{type(exc).__name__}: {exc}"[:300]
                log.exception("tenant %d: model %s failed to load", tid, active.version)
                self._failures[tid] = (time.monotonic() + LOAD_RETRY_S, active.version, reason)
                if current is not None:
                    return current
                raise StorageError(f"the tenant's model {active.version} could not be "
                                   f"loaded ({reason}); retrying shortly",
                                   retry_after=LOAD_RETRY_S) from None
            self._failures.pop(tid, None)
            self._loaded_any = True
            self.install(tid, entry)
            return entry
        finally:
            lock.release()

    def _active_record(self, tid: int) -> ModelRecord | None:
        now = time.monotonic()
        cached = self._active.get(tid)
        if cached is not None and cached[0] > now:
            return cached[1]
        record = self._store.models.active(tid, RECOMMENDER_NAME)
        self._active[tid] = (now + ACTIVE_TTL_S, record)
        return record

    def _load(self, tid: int, version: str, path: str, chash: str,
              trained_at: dt.datetime | None) -> TenantModel:
        data = self._store.load_dataset(tid)
        data = aligned_dataset(data, path, trained_at) or data
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
        entry = TenantModel(version, chash or config_hash(ranking), Ranker(model, data, ranking),
                            cutoff=trained_at, degraded=degraded)
        entry.lean_ranker()  # built before the swap, not by the first request after it
        entry.ranker.prepare()
        return entry
