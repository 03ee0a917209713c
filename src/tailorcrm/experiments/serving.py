"""Which experiment arm a request is served under: each tenant's running experiments in memory.

Read from the store at most once per ``EXPERIMENTS_TTL_S`` per tenant and worker (an
experiment saved through this worker is seen at once, :meth:`ExperimentCache.forget`; one
saved elsewhere within the TTL). The arm itself is computed (:mod:`tailorcrm.experiments.assign`),
never stored, so every worker and every restart agree.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
import weakref
from dataclasses import dataclass

from tailorcrm.errors import NotFoundError, TailorCRMError
from tailorcrm.experiments.assign import Assignment, assign
from tailorcrm.experiments.config import EXPERIMENT_KIND, Experiment, Surface, load_experiment
from tailorcrm.experiments.exposures import ExposureSink
from tailorcrm.store import Store
from tailorcrm.store.experiments import ExposureRow

log = logging.getLogger(__name__)

EXPERIMENTS_TTL_S = 1.0
Placement = tuple[str, str]  # (surface, placement)


@dataclass(frozen=True)
class Arm:
    """What one request serves under an experiment: the assignment and the config it names
    (a strategy or catalog; None: the control serving the placement's own, or no action)."""

    assignment: Assignment
    serves: str | None

    @property
    def pair(self) -> tuple[str, str]:
        """``(experiment, variant)``, as recommendation ids carry it."""
        return self.assignment.experiment, self.assignment.variant.name


class ExperimentCache:
    """Tenant → its experiments, by the (surface, placement) each takes over."""

    def __init__(self, store: Store, ttl: float = EXPERIMENTS_TTL_S) -> None:
        self._store = store
        self._ttl = ttl
        self._found: dict[int, tuple[float, dict[Placement, list[Experiment]]]] = {}
        self._lock = threading.Lock()

    def _read(self, tid: int) -> dict[Placement, list[Experiment]]:
        out: dict[Placement, list[Experiment]] = {}
        for info in self._store.configs.list(tid, EXPERIMENT_KIND):
            try:
                exp = load_experiment(self._store.configs, tid, info.name)
            except (TailorCRMError, ValueError) as exc:  # a stored body that no longer reads
                log.warning("tenant %d: experiment %s is skipped: %s", tid, info.name, exc)
                continue
            if exp.status == "running":
                out.setdefault((exp.surface, exp.placement), []).append(exp)
        return out

    def running(self, tid: int) -> dict[Placement, list[Experiment]]:
        """The tenant's running experiments (read again after the TTL)."""
        cached = self._found.get(tid)
        if cached is None or cached[0] <= time.monotonic():
            cached = (time.monotonic() + self._ttl, self._read(tid))
            with self._lock:
                self._found[tid] = cached
        return cached[1]

    def peek(self, tid: int) -> dict[Placement, list[Experiment]] | None:
        """The running experiments while fresh, None otherwise (no I/O)."""
        cached = self._found.get(tid)
        return None if cached is None or cached[0] <= time.monotonic() else cached[1]

    def forget(self, tid: int) -> None:
        """Read the tenant's experiments again on the next request."""
        with self._lock:
            self._found.pop(tid, None)


def arm_in(found: dict[Placement, list[Experiment]], tid: int, surface: Surface,
           placement: str, customer_id: str, consented: bool,
           now: dt.datetime | None = None) -> Arm | None:
    """The arm of the experiment running now on ``(surface, placement)``, None without one."""
    moment = now or dt.datetime.now(dt.UTC)
    for exp in found.get((surface, placement), ()):
        if exp.running_at(moment):
            got = assign(exp, tid, customer_id, consented=consented)
            serves = got.variant.strategy if surface == "recommendations" else \
                got.variant.catalog
            return Arm(got, serves)
    return None


_CACHES: weakref.WeakKeyDictionary[object, ExperimentCache] = weakref.WeakKeyDictionary()
_GUARD = threading.Lock()


def experiments_of(owner: object, store: Store) -> ExperimentCache:
    """The experiment cache of a worker's model cache (``owner``), made on first use."""
    found = _CACHES.get(owner)
    if found is None:
        with _GUARD:
            found = _CACHES.get(owner)
            if found is None:
                found = _CACHES[owner] = ExperimentCache(store)
    return found


def experiment_on(owner: object, store: Store, tid: int, surface: Surface,
                  placement: str) -> bool | None:
    """Whether an experiment runs on the placement, from memory; None when the cache is due
    for reading (the caller asks :func:`action_arm` off the event loop)."""
    found = experiments_of(owner, store).peek(tid)
    return None if found is None else (surface, placement) in found


def action_arm(store: Store, owner: object, tid: int, catalog: str, customer_id: str,
               exposures: ExposureSink | None = None) -> Arm | None:
    """The arm of the experiment running on next best actions of ``catalog`` for the
    customer (its exposure handed to ``exposures``); None without one. Consent is the
    served model's view of the customer, or the stored customer's when no model is loaded."""
    found = experiments_of(owner, store).running(tid)
    if ("next_best_actions", catalog) not in found:
        return None
    get = getattr(owner, "get", None)
    entry = get(tid) if callable(get) else None
    if entry is not None:
        consented = bool(entry.ranker.personalized(customer_id))
    else:
        record = store.customers.find(tid, customer_id)
        consented = record is None or record.consent_personalization != "denied"
    arm = arm_in(found, tid, "next_best_actions", catalog, customer_id, consented)
    if arm is not None and not store.holds_customer(tid, customer_id):
        raise NotFoundError(f"no customer {customer_id!r}", customer_id=customer_id)
    if arm is not None and exposures is not None:
        exposures.add(ExposureRow(tid, arm.pair[0], arm.pair[1], customer_id,
                                  dt.datetime.now(dt.UTC), consented))
    return arm
