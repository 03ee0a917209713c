"""Top-N once, outside the models: exclusions, consent, live feedback and labelled reasons."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import sparse

from tailorcrm.data.dataset import Dataset
from tailorcrm.errors import NotFoundError
from tailorcrm.recommend.base import Recommender, Weighting, history_row
from tailorcrm.recommend.live import LiveHistory
from tailorcrm.recommend.popularity import Popularity
from tailorcrm.recommend.ranking_config import (
    RANKING_FILE,
    RankingConfig,
    load_ranking_config,
    save_ranking_config,
)
from tailorcrm.recommend.ranking_reasons import NOT_PERSONALIZED, RankerReasons
from tailorcrm.recommend.topn import Recommendation, top_k

# RankingConfig, its file and top_k live in their own modules; they are re-exported here,
# where every caller of the ranker has always found them.
__all__ = ["NOT_PERSONALIZED", "RANKING_FILE", "Ranker", "RankingConfig", "Recommendation",
           "load_ranking_config", "require_customer", "save_ranking_config", "top_k"]

log = logging.getLogger(__name__)


@dataclass
class Ranker(RankerReasons):
    """Turns a fitted model's scores into lists a salesperson can use.

    Consent-denied customers get ``fallback`` (global popularity, fitted here if not
    given) and reasons that say so. :meth:`add_events` takes live events: the customer's
    next list is recomputed from their updated history by the model's fold-in, and a
    rejected item never comes back.
    """

    model: Recommender
    data: Dataset
    config: RankingConfig = field(default_factory=RankingConfig)
    fallback: Recommender | None = None
    _live: LiveHistory = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if self.fallback is None:
            self.fallback = Popularity().fit(self.data)
        self._allowed = self.data.personalizable_customers()
        self._live = LiveHistory(self.data.n_items)
        items = self.data.items.reindex(self.data.item_vocab.ids)
        available = items["available"] if "available" in items else pd.Series(True)
        self._unavailable = (available.astype("boolean").fillna(True) == False).to_numpy()  # noqa: E712
        cats = items["categories"] if "categories" in items else pd.Series([[]] * len(items))
        repurchasable = set(self.config.repurchasable_categories)
        self._repurchasable = np.asarray(
            [bool(repurchasable & set(c)) if isinstance(c, list | tuple) else False
             for c in cats], dtype=bool)
        self._titles = items["title"].fillna("").astype(str).to_numpy() if "title" in items \
            else np.full(len(items), "", dtype=object)
        self._rejected = self._typed(self.data.events, self.config.reject_types)
        self._bought = self._typed(self.data.events, self.config.bought_types)
        # row positions of each customer's events, so one customer's history is a lookup
        # rather than a scan of every event (reasons read it once per recommended item)
        self._rows_of = self.data.events.groupby("customer_id", sort=False).indices
        self._types_cache: dict[str, dict[str, frozenset[str]]] = {}
        self._verbs: sparse.csr_matrix | None = None
        self._item_ids = np.asarray([str(i) for i in self.data.item_vocab.ids], dtype=object)
        self._item_pos = {str(i): k for k, i in enumerate(self._item_ids)}
        # serving's view of changes since training: consent given or withdrawn, and customers
        # erased (forgotten: treated as unknown, their training rows never read again)
        self._consent: dict[str, bool] = {}
        self._forgotten: set[str] = set()

    # -- ids -----------------------------------------------------------------------------
    def customer_index(self, customer_id: str) -> int:
        """The training index of a customer; -1 when unknown or forgotten."""
        if customer_id in self._forgotten:
            return -1
        return self.data.customer_vocab.index_of(customer_id)

    def customer_indices(self, customer_ids: list[str]) -> np.ndarray:
        """:meth:`customer_index` of several customers."""
        idx = self.data.customer_vocab.index(customer_ids) if customer_ids \
            else np.zeros(0, dtype=np.int64)
        if self._forgotten:
            idx = np.where([c in self._forgotten for c in customer_ids], -1, idx)
        return np.asarray(idx, dtype=np.int64)

    def item_ids_of(self, item_idx: np.ndarray) -> list[str]:
        """External ids of item indices."""
        return [str(i) for i in self._item_ids[np.asarray(item_idx, dtype=np.int64)]]

    def item_index_of(self, item_ids: list[str]) -> np.ndarray:
        """Indices of known external item ids."""
        return np.asarray([self._item_pos[i] for i in item_ids], dtype=np.int64)

    def batchable(self, customer_ids: list[str]) -> np.ndarray:
        """Positions of the customers the batch path answers: known, consenting, no live
        events (everyone else is scored one by one)."""
        idx = self.customer_indices(customer_ids)
        return np.asarray([i for i, c in enumerate(customer_ids)
                           if idx[i] >= 0 and c not in self._live and self.personalized(c)],
                          dtype=np.int64)

    def set_consent(self, customer_id: str, allowed: bool) -> None:
        """Personalization consent changed since training: takes effect on the next list."""
        self._consent[str(customer_id)] = bool(allowed)

    def forget(self, customer_id: str) -> None:
        """An erased customer: from now on unknown to this ranker (no personalized list, no
        reasons from their history) although the model's arrays still hold their row."""
        cid = str(customer_id)
        self._forgotten.add(cid)
        self._live.pop(cid)
        self._types_cache.pop(cid, None)

    # -- exclusions ----------------------------------------------------------------------
    def _typed(self, events: pd.DataFrame, types: tuple[str, ...]) -> sparse.csr_matrix:
        return self.data.with_events(events[events["type"].isin(list(types))]) \
            .interaction_matrix(weighting="count")

    def excluded(self, customer_id: str) -> np.ndarray:
        """Boolean mask over items this customer must not be shown."""
        mask = self._unavailable.copy() if self.config.exclude_unavailable \
            else np.zeros(self.data.n_items, dtype=bool)
        rejected = np.zeros(self.data.n_items)
        bought = np.zeros(self.data.n_items)
        idx = self.customer_index(customer_id)
        if idx >= 0:
            rejected += self._rejected[idx].toarray().ravel()
            bought += self._bought[idx].toarray().ravel()
        live = self._live.get(str(customer_id))
        if live is not None:
            rejected += self._live.counts(str(customer_id), "rejected", lambda: self._counted(
                live, self.config.reject_types))
            bought += self._live.counts(str(customer_id), "bought", lambda: self._counted(
                live, self.config.bought_types))
        mask |= rejected > 0
        if self.config.exclude_bought:
            mask |= (bought > 0) & ~self._repurchasable
        return mask

    def _counted(self, live: pd.DataFrame, types: tuple[str, ...]) -> np.ndarray:
        """Per-item counts of the live events of ``types``."""
        out = np.zeros(self.data.n_items)
        kinds = live["type"].astype(str).to_numpy()
        item_ids = live["item_id"].to_numpy(dtype=object)
        cols = np.asarray([self._item_pos.get(str(i), -1) if i is not None and i == i else -1
                           for i in item_ids], dtype=np.int64)
        hit = np.isin(kinds, list(types)) & (cols >= 0)
        np.add.at(out, cols[hit], 1.0)
        return out

    def excluded_many(self, customer_idx: np.ndarray, *, exclude_bought: bool | None = None
                      ) -> np.ndarray:
        """:meth:`excluded` for rows of training customers at once (no live events).

        ``exclude_bought`` overrides the config's (the model choice scores both policies).
        """
        idx = np.asarray(customer_idx, dtype=np.int64)
        mask = np.zeros((len(idx), self.data.n_items), dtype=bool)
        if self.config.exclude_unavailable:
            mask |= self._unavailable[None, :]
        mask |= self._rejected[idx].toarray() > 0
        if self.config.exclude_bought if exclude_bought is None else exclude_bought:
            mask |= (self._bought[idx].toarray() > 0) & ~self._repurchasable[None, :]
        return mask

    # -- events and live feedback --------------------------------------------------------
    def customer_events(self, customer_id: str) -> pd.DataFrame:
        """This customer's events: training data plus live events added since."""
        rows = self._rows_of.get(str(customer_id), np.zeros(0, dtype=np.int64))
        if str(customer_id) in self._forgotten:
            rows = np.zeros(0, dtype=np.int64)
        own = self.data.events.iloc[rows]
        live = self._live.get(str(customer_id))
        if live is None:
            return own
        return self._live.combined(str(customer_id),
                                   lambda: pd.concat([own, live], ignore_index=True))

    def history(self, customer_id: str, weighting: Weighting) -> np.ndarray:
        """The customer's history row (training plus live events), built once per change."""
        return self._live.row(str(customer_id), str(weighting), lambda: history_row(
            self.data, self.customer_events(customer_id), weighting))

    def _history_types(self, customer_id: str) -> dict[str, frozenset[str]]:
        """Event types per item of one customer's history, built once per customer."""
        cached = self._types_cache.get(customer_id)
        if cached is None:
            ev = self.customer_events(customer_id)
            items = ev["item_id"].astype(object).to_numpy()
            types = ev["type"].astype(object).to_numpy()
            found: dict[str, set[str]] = {}
            for item, kind in zip(items, types, strict=True):
                if item is not None and item == item:
                    found.setdefault(str(item), set()).add(str(kind))
            cached = {k: frozenset(v) for k, v in found.items()}
            self._types_cache[customer_id] = cached
        return cached

    def add_events(self, events: pd.DataFrame) -> None:
        """Take live events (Dataset event columns); their customers' next lists change."""
        frame = Dataset.from_events(events).events
        for customer_id, rows in frame.groupby("customer_id", sort=False).indices.items():
            cid = str(customer_id)
            if cid in self._forgotten:
                continue
            self._live.add_rows(cid, frame, np.asarray(rows))
            self._types_cache.pop(cid, None)

    # -- lists ---------------------------------------------------------------------------
    def personalized(self, customer_id: str) -> bool:
        """False when the customer denied personalization."""
        given = self._consent.get(customer_id)
        if given is not None:
            return given
        idx = self.customer_index(customer_id)
        return idx < 0 or bool(self._allowed[idx])

    def scores(self, customer_id: str) -> tuple[np.ndarray, Recommender]:
        """All-item scores for one customer and the model that gave them."""
        idx = self.customer_index(customer_id)
        assert self.fallback is not None
        if not self.personalized(customer_id):
            return self.fallback.score(-1), self.fallback
        if str(customer_id) in self._live:
            kept = self._live.scores(str(customer_id))
            if kept is not None:
                return kept[0], kept[1]  # type: ignore[return-value]
            scores = self.model.fold_in_events(self.data, self.customer_events(customer_id))
            used = self.model if not np.all(np.isnan(scores)) else self.fallback
            if used is self.fallback:
                scores = self.fallback.score(idx)
            self._live.keep_scores(str(customer_id), scores, used)
            return scores, used
        else:
            scores = self.model.score(idx)
        if np.all(np.isnan(scores)):
            return self.fallback.score(idx), self.fallback
        return scores, self.model

    def recommend(self, customer_id: str, n: int | None = None) -> list[Recommendation]:
        """The top ``n`` items for one customer, each with labelled reasons."""
        scores, source = self.scores(str(customer_id))
        return self._rank(str(customer_id), scores, source, n)

    def recommend_for(self, customer_ids: list[str], n: int | None = None, *,
                      batch: bool = True) -> dict[str, list[Recommendation]]:
        """Lists for several customers, the same as :meth:`recommend` gives one by one.

        Known, consenting customers without live events are scored as one matrix, ranked
        with one top-k and explained pair by pair from arrays (the model's
        :meth:`~tailorcrm.recommend.base.Recommender.explain_many`); everyone else takes
        the single-customer path. ``batch=False`` ranks and explains every list one
        customer at a time (the previous path, kept as the benchmark's anchor).
        """
        ids = [str(c) for c in customer_ids]
        idx = self.customer_indices(ids)
        rows_of = self.batchable(ids).tolist()
        out: dict[str, list[Recommendation]] = {}
        if rows_of:
            scores = self.model.score_many(idx[rows_of])
            answered = ~np.all(np.isnan(scores), axis=1)
            kept = [i for i, ok in zip(rows_of, answered, strict=True) if ok]
            if not batch:
                for row, i in zip(scores[answered], kept, strict=True):
                    out[ids[i]] = self._rank(ids[i], row, self.model, n)
            elif kept:
                lists = self._rank_many(idx[kept], scores[answered], n)
                out.update({ids[i]: recs for i, recs in zip(kept, lists, strict=True)})
        for c in ids:
            if c not in out:
                out[c] = self.recommend(c, n)
        return {c: out[c] for c in ids}

    def _rank_many(self, customer_idx: np.ndarray, scores: np.ndarray, n: int | None
                   ) -> list[list[Recommendation]]:
        """Lists of training customers the model answers, from their score rows at once."""
        scores = np.where(self.excluded_many(customer_idx), np.nan, scores)
        best = top_k(scores, n or self.config.n)
        rows, cols = np.nonzero(best >= 0)
        items = best[rows, cols]
        raw = self._raw_reasons_many(self.model, customer_idx[rows], items) \
            if self.config.max_reasons else [[] for _ in range(len(items))]
        item_ids = self._item_ids
        values = scores[rows, items]
        verbs = self._verb_codes()[customer_idx].toarray()
        out: list[list[Recommendation]] = [[] for _ in range(len(customer_idx))]
        limit = self.config.max_reasons + 1
        for r, item, value, reasons in zip(rows.tolist(), items.tolist(), values.tolist(), raw,
                                           strict=True):
            labelled = [self._label(x, "", -1, verbs[r]) for x in reasons][:limit]
            out[r].append(Recommendation(item_ids[item], value, tuple(labelled)))
        return out

    def _rank(self, customer_id: str, scores: np.ndarray, source: Recommender,
              n: int | None) -> list[Recommendation]:
        scores = np.where(self.excluded(customer_id), np.nan, scores)
        best = top_k(scores, n or self.config.n)[0]
        idx = self.customer_index(customer_id)
        return [Recommendation(self.data.item_vocab.id(int(item)), float(scores[item]),
                               tuple(self._reasons(source, idx, int(item), customer_id)))
                for item in best[best >= 0]]

    def item_id(self, item_idx: int) -> str:
        """The external id of an item index."""
        return str(self._item_ids[item_idx])



def require_customer(data: Dataset, customer_id: str) -> int:
    """The index of a known customer, or :class:`NotFoundError`."""
    idx = data.customer_vocab.index_of(customer_id)
    if idx < 0:
        raise NotFoundError(f"customer {customer_id!r} not found", customer_id=customer_id)
    return idx
