"""What a ranker keeps of customers with events since training: their events and derived rows.

Events that arrive after training are folded into the customer's next list. Deriving a
customer's combined event frame, their history rows (one per weighting) and their folded-in
scores costs pandas work per call; a serving worker asks for them several times per request
(scores, exclusions, one reason per item), so they are built once per change of the customer's
events and dropped when it changes again. Folded-in scores are kept for the most recent
customers within a byte budget.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

#: Bytes of folded-in score rows kept (float64 rows of ``n_items``), newest customers first.
SCORE_BUDGET_BYTES = 64 * 2**20


@dataclass
class LiveHistory:
    """Per customer: live events, the combined frame, history rows, folded-in scores."""

    n_items: int
    # a customer's live events as (frame, row positions) parts, made into one frame when read
    _parts: dict[str, list[tuple[pd.DataFrame, np.ndarray]]] = field(default_factory=dict)
    _frames: dict[str, pd.DataFrame] = field(default_factory=dict)
    _combined: dict[str, pd.DataFrame] = field(default_factory=dict)
    _rows: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    _scores: OrderedDict[str, tuple[np.ndarray, object]] = field(default_factory=OrderedDict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __contains__(self, customer_id: object) -> bool:
        return customer_id in self._parts

    def __bool__(self) -> bool:
        return bool(self._parts)

    @property
    def events(self) -> dict[str, pd.DataFrame]:
        """Every customer's live events (built for all: for rare whole-state copies)."""
        return {c: frame for c in list(self._parts) if (frame := self.get(c)) is not None}

    def get(self, customer_id: str) -> pd.DataFrame | None:
        """The customer's live events, None when they have none."""
        found = self._frames.get(customer_id)
        if found is None:
            parts = self._parts.get(customer_id)
            if not parts:
                return None
            pieces = [frame.iloc[rows] for frame, rows in parts]
            found = pieces[0] if len(pieces) == 1 else pd.concat(pieces)
            self._frames[customer_id] = found
        return found

    def add(self, customer_id: str, part: pd.DataFrame) -> None:
        """More live events of one customer: what was derived from the old ones is dropped."""
        self.add_rows(customer_id, part, np.arange(len(part)))

    def add_rows(self, customer_id: str, frame: pd.DataFrame, rows: np.ndarray) -> None:
        """More live events of one customer, as row positions of a shared ``frame`` (many
        customers' events arrive in one frame: nothing is copied until it is read)."""
        self._parts.setdefault(customer_id, []).append((frame, rows))
        self._frames.pop(customer_id, None)
        self.drop_derived(customer_id)

    def pop(self, customer_id: str) -> None:
        """Forget the customer entirely."""
        self._parts.pop(customer_id, None)
        self._frames.pop(customer_id, None)
        self.drop_derived(customer_id)

    def drop_derived(self, customer_id: str) -> None:
        """Drop the frame, rows and scores derived for the customer (their inputs changed)."""
        self._combined.pop(customer_id, None)
        self._rows.pop(customer_id, None)
        with self._lock:
            self._scores.pop(customer_id, None)

    def combined(self, customer_id: str, build: Callable[[], pd.DataFrame]) -> pd.DataFrame:
        """The customer's training plus live events, built once by ``build()``."""
        found = self._combined.get(customer_id)
        if found is None:
            found = build()
            self._combined[customer_id] = found
        return found

    def row(self, customer_id: str, weighting: str, build: Callable[[], np.ndarray]
            ) -> np.ndarray:
        """The customer's history row under ``weighting``, built once by ``build()``."""
        own = self._rows.setdefault(customer_id, {})
        found = own.get(weighting)
        if found is None:
            found = build()
            own[weighting] = found
        return found

    def counts(self, customer_id: str, key: str, build: Callable[[], np.ndarray]
               ) -> np.ndarray:
        """Per-item counts of the customer's live events of one kind (``key``: rejected,
        bought), built once by ``build()``."""
        return self.row(customer_id, f"counts:{key}", build)

    def scores(self, customer_id: str) -> tuple[np.ndarray, object] | None:
        """Folded-in scores kept for the customer, and the model that gave them."""
        with self._lock:
            found = self._scores.get(customer_id)
            if found is not None:
                self._scores.move_to_end(customer_id)
            return found

    def keep_scores(self, customer_id: str, scores: np.ndarray, source: object) -> None:
        """Keep a customer's folded-in scores, evicting the oldest beyond the budget."""
        limit = max(1, SCORE_BUDGET_BYTES // max(8 * self.n_items, 1))
        with self._lock:
            self._scores[customer_id] = (scores, source)
            self._scores.move_to_end(customer_id)
            while len(self._scores) > limit:
                self._scores.popitem(last=False)
