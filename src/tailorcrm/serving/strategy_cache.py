"""Each tenant's strategies and their resolved rules, read from the store at most once a second.

A strategy saved through this process is seen at once (:meth:`StrategyCache.forget`); one saved
through another worker or the CLI within ``STRATEGY_TTL_S``.
"""

from __future__ import annotations

import threading
import time

from tailorcrm.customize.rules import RuleSet
from tailorcrm.customize.strategies import Strategy, load_strategy, resolve_rules
from tailorcrm.errors import TailorCRMError
from tailorcrm.store import Store

STRATEGY_TTL_S = 1.0


class StrategyCache:
    """``(tenant, name)`` → the newest strategy and its rules, or the error reading them gave."""

    def __init__(self, store: Store, ttl: float = STRATEGY_TTL_S) -> None:
        self._store = store
        self._ttl = ttl
        self._found: dict[tuple[int, str],
                          tuple[float, tuple[Strategy, RuleSet] | TailorCRMError]] = {}
        self._lock = threading.Lock()

    def get(self, tid: int, name: str) -> tuple[Strategy, RuleSet]:
        """The strategy ``name`` of tenant ``tid`` (the shipped default for ``default``
        unless the tenant stored one) and its resolved rules; NotFoundError if absent."""
        key = (tid, name)
        cached = self._found.get(key)
        if cached is None or cached[0] <= time.monotonic():
            try:
                strategy = load_strategy(self._store.configs, tid, name)
                value: tuple[Strategy, RuleSet] | TailorCRMError = (
                    strategy, resolve_rules(strategy, self._store.configs, tid))
            except TailorCRMError as exc:  # unknown names are remembered for the TTL too
                value = exc
            cached = (time.monotonic() + self._ttl, value)
            with self._lock:
                self._found[key] = cached
        if isinstance(cached[1], TailorCRMError):
            raise cached[1]
        return cached[1]

    def peek(self, tid: int, name: str) -> tuple[Strategy, RuleSet] | None:
        """The cached strategy and rules while fresh; None otherwise (no I/O)."""
        cached = self._found.get((tid, name))
        if cached is None or cached[0] <= time.monotonic() or isinstance(cached[1],
                                                                         TailorCRMError):
            return None
        return cached[1]

    def forget(self, tid: int) -> None:
        """Read the tenant's strategies again on the next request (one was saved here)."""
        with self._lock:
            for key in [k for k in self._found if k[0] == tid]:
                del self._found[key]
