"""The labelled reasons of a ranker's lists: from arrays for batch customers, from the live
history for the others, with "bought X" / "viewed Y" verbs.

:class:`RankerReasons` is the reason half of :class:`~tailorcrm.recommend.ranking.Ranker`
(which owns scoring, exclusions, consent and live events); it reads only what the ranker
holds, declared below for the type checker.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Self

import numpy as np
from scipy import sparse

from tailorcrm.data.dataset import Dataset
from tailorcrm.recommend.base import Recommender, Weighting
from tailorcrm.recommend.fallback import FallbackChain
from tailorcrm.recommend.live import LiveHistory
from tailorcrm.recommend.ranking_config import RankingConfig
from tailorcrm.recommend.reasons import Reason
from tailorcrm.recommend.verbs import (
    build_verb_codes,
    code_in_row,
    code_in_table,
    code_of_types,
    verb,
)

NOT_PERSONALIZED = ("not personalized: personalized models did not beat popularity on "
                    "your data")
# One build of a ranker's verb table at a time: serving threads that meet an unbuilt table
# wait for the first build instead of each building it (seconds of CPU each, at 600k events).
_VERBS_LOCK = threading.Lock()


class RankerReasons:
    """Reasons of ``(customer, item)`` pairs, labelled for people."""

    model: Recommender
    data: Dataset
    config: RankingConfig
    fallback: Recommender | None
    _live: LiveHistory
    _verbs: sparse.csr_matrix | None
    _titles: np.ndarray

    if TYPE_CHECKING:  # provided by Ranker
        def customer_index(self, customer_id: str) -> int: ...
        def personalized(self, customer_id: str) -> bool: ...
        def history(self, customer_id: str, weighting: Weighting) -> np.ndarray: ...
        def item_id(self, item_idx: int) -> str: ...
        def _history_types(self, customer_id: str) -> dict[str, frozenset[str]]: ...

    def _raw_reasons_many(self, source: Recommender, customer_idx: np.ndarray,
                          item_idx: np.ndarray) -> list[list[Reason]]:
        """Unlabelled reasons of ``(customer, item)`` pairs ``source`` answered (training
        customers who allow personalization and have no live events: the batch path)."""
        raw = source.explain_many(customer_idx, item_idx)
        names: dict[int, str] = {}
        for j, reasons in enumerate(raw):
            if reasons:
                continue
            if source is self.fallback:
                raw[j] = [Reason("popular", "popular with all customers", 1.0, "global")]
                continue
            c = int(customer_idx[j])
            if c not in names:
                names[c] = str(source.answering_model(c)
                               if isinstance(source, FallbackChain) else source.name)
            raw[j] = [Reason("model", f"top model: {names[c]}", 1.0, names[c])]
        return raw

    def reasons_many(self, customer_idx: np.ndarray, item_idx: np.ndarray
                     ) -> list[list[Reason]]:
        """Labelled reasons of ``(customer, item)`` pairs of batch customers (known,
        consenting, no live events; scored by :attr:`model`), from arrays at once."""
        if self.config.max_reasons == 0:
            return [[] for _ in range(len(item_idx))]
        raw = self._raw_reasons_many(self.model, customer_idx, item_idx)
        unique, inverse = np.unique(np.asarray(customer_idx, dtype=np.int64),
                                    return_inverse=True)
        verbs = self._verb_codes()[unique].toarray()
        limit = self.config.max_reasons + 1
        return [[self._label(x, "", -1, verbs[inverse[j]]) for x in reasons][:limit]
                for j, reasons in enumerate(raw)]

    def reasons_for(self, source: Recommender, customer_id: str, item_idx: np.ndarray
                    ) -> list[list[Reason]]:
        """Labelled reasons of several items for one customer, as :meth:`recommend` gives
        them (``source``: the model that scored the customer, from :meth:`scores`)."""
        items = np.asarray(item_idx, dtype=np.int64).ravel()
        idx = self.customer_index(customer_id)
        simple = idx >= 0 and customer_id not in self._live and self.personalized(customer_id)
        if not simple or self.config.max_reasons == 0 or not len(items):
            return [self._reasons(source, idx, int(i), customer_id) for i in items]
        raw = self._raw_reasons_many(source, np.full(len(items), idx), items)
        verbs = self._verb_codes()[[idx]].toarray()[0]
        limit = self.config.max_reasons + 1
        return [[self._label(x, "", -1, verbs) for x in reasons][:limit] for reasons in raw]

    def _reasons(self, source: Recommender, customer_idx: int, item_idx: int,
                 customer_id: str) -> list[Reason]:
        if self.config.max_reasons == 0:
            return []
        if source is self.fallback and not self.personalized(customer_id):
            return [Reason("popular", "popular with all customers (personalization is off)",
                           1.0, "global")]
        if customer_id in self._live or customer_idx < 0:  # explain from the (live) history
            history = self.history(customer_id, "catalog")
            raw = source.explain_history(history, item_idx)
        else:
            raw = source.explain(customer_idx, item_idx)
        if not raw and (source is self.fallback or customer_idx < 0):
            raw = [Reason("popular", "popular with all customers", 1.0, "global")]
        elif not raw:  # a model without details for this item (e.g. a zero-score filler)
            name = source.answering_model(customer_idx) if isinstance(source, FallbackChain) \
                else source.name
            raw = [Reason("model", f"top model: {name}", 1.0, str(name))]
        known = -1 if customer_id in self._live else customer_idx
        return [self._label(r, customer_id, known) for r in raw][: self.config.max_reasons + 1]

    def _verb_codes(self) -> sparse.csr_matrix:
        """The verb table of the training events (:func:`~tailorcrm.recommend.verbs.
        build_verb_codes`), built once."""
        if self._verbs is not None:
            return self._verbs
        with _VERBS_LOCK:
            if self._verbs is None:
                self._verbs = build_verb_codes(self.data)
        return self._verbs

    def prepare(self) -> Self:
        """Build what reasons read lazily (the verb table) now, e.g. before a serving swap, so
        that no request pays for it."""
        if self.config.max_reasons:
            self._verb_codes()
        return self

    def _verb(self, customer_id: str, customer_idx: int, item: int,
              verbs: np.ndarray | None = None) -> str:
        """How the customer met this item (``bought``, ``viewed``...); ``liked`` otherwise.

        ``verbs``: the customer's dense row of the verb table (the batch path).
        """
        if verbs is not None:
            return verb(code_in_row(verbs, item))
        if customer_idx >= 0:
            return verb(code_in_table(self._verb_codes(), customer_idx, item))
        return verb(code_of_types(self._history_types(customer_id).get(self.item_id(item),
                                                                        frozenset())))

    def _label(self, reason: Reason, customer_id: str, customer_idx: int = -1,
               verbs: np.ndarray | None = None) -> Reason:
        """Reason text for people; ``customer_idx`` ≥ 0 (or their ``verbs`` row) reads a
        training customer's event types from arrays (no live events), else their events
        are looked up by id."""
        if reason.kind == "popular" and not self.config.personalized \
                and NOT_PERSONALIZED not in reason.label:
            return Reason("popular", f"{reason.label} — {NOT_PERSONALIZED}", reason.weight,
                          reason.ref)
        if reason.kind != "history_item" or reason.label:
            return reason
        item = int(reason.ref)
        item_id = self.item_id(item)
        title = self._titles[item] or item_id
        verb = self._verb(customer_id, customer_idx, item, verbs)
        return Reason("history_item", f"{verb} {title}", reason.weight, item_id)
