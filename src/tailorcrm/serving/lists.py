"""A strategy's fresh precomputed lists in memory, as ready-to-send JSON fragments.

Read once per model version and config hash from the results store (one streamed query),
so that serving a fresh list reads no database and serialises nothing: the response is the
stored items' JSON, cut to ``n``. Lists of customers who changed since (new events, consent)
are not served from here; the change feed marks them and they are scored online.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from typing import Any

import orjson

log = logging.getLogger(__name__)

#: Lists one strategy keeps in memory; beyond it a server scores the rest online.
MAX_LISTS = 500_000


class ListCache:
    """``customer_id`` → the JSON of each item of their list (with and without reasons)."""

    def __init__(self, model_version: str, config_hash: str,
                 rows: Iterable[tuple[str, list[Any]]], *, limit: int = MAX_LISTS) -> None:
        self.model_version = model_version
        self.config_hash = config_hash
        self._lists: dict[str, tuple[bytes, ...]] = {}
        for customer_id, items in rows:
            if len(self._lists) >= limit:
                log.warning("more than %d precomputed lists: the rest are scored online",
                            limit)
                break
            self._lists[customer_id] = tuple(orjson.dumps(i) for i in items)
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._lists)

    def items_json(self, customer_id: str, n: int) -> bytes | None:
        """``[item, ...]`` of the customer's first ``n`` items, None when there is no list or
        it is shorter than ``n`` (then it is scored online)."""
        found = self._lists.get(customer_id)
        if found is None or len(found) < n:
            return None
        return b"[" + b",".join(found[:n]) + b"]"

    def items(self, customer_id: str, n: int) -> list[dict[str, Any]] | None:
        """The customer's first ``n`` items as dicts (see :meth:`items_json`)."""
        raw = self.items_json(customer_id, n)
        return None if raw is None else list(orjson.loads(raw))

    def drop(self, customer_ids: Iterable[str]) -> None:
        """Forget the lists of these customers (erased): they are never served again."""
        with self._lock:
            for c in customer_ids:
                self._lists.pop(c, None)
