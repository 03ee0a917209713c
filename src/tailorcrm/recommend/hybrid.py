"""Hybrid: a weighted blend of any recommenders with per-customer score normalization."""

from __future__ import annotations

import logging
import warnings
from collections.abc import Sequence
from typing import Any, Literal, Self

import numpy as np
import pandas as pd
from pydantic import Field

from tailorcrm.data.dataset import Dataset
from tailorcrm.errors import InsufficientDataError
from tailorcrm.recommend.base import Composite, ModelConfig, Recommender, training_matrix
from tailorcrm.recommend.reasons import Reason
from tailorcrm.recommend.spec import ModelSpec

log = logging.getLogger(__name__)

Normalization = Literal["zscore", "minmax", "std", "none"]


class HybridConfig(ModelConfig):
    """A blend: ``components`` and how their scores are made comparable.

    ``normalize``: ``zscore`` centres and scales each customer's scores over the items not
    yet in their history; ``std`` only scales (keeps each model's zero); ``minmax`` maps them
    to [0, 1]; ``none`` blends raw scores.
    """

    components: tuple[ModelSpec, ...] = Field(min_length=1)
    normalize: Normalization = "zscore"


def normalize_rows(scores: np.ndarray, seen: np.ndarray, how: Normalization) -> np.ndarray:
    """Per-row normalization over candidate (unseen, non-NaN) items; NaN stays NaN."""
    if how == "none":
        return scores
    candidates = np.where(seen, np.nan, scores)
    with np.errstate(invalid="ignore", divide="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN rows stay NaN
        if how == "minmax":
            low = np.nanmin(candidates, axis=1, keepdims=True)
            span = np.nanmax(candidates, axis=1, keepdims=True) - low
            return (scores - low) / np.where(span > 0, span, 1.0)
        std = np.nanstd(candidates, axis=1, keepdims=True)
        std = np.where(std > 0, std, 1.0)
        if how == "std":
            return scores / std
        return (scores - np.nanmean(candidates, axis=1, keepdims=True)) / std


class Hybrid(Composite):
    """Blends its components: ``Σ w_c · norm(s_c)`` over the components that can score.

    A component with NaN for an item adds nothing to it (a cold item is still scored by
    content); an item no component can score stays NaN. Components are composed, not
    inherited: any fitted or unfitted :class:`Recommender` can be one. The hybrid is handed
    them built (``registry.build_model("hybrid", config)`` or :meth:`of`).
    """

    name = "hybrid"
    config_class = HybridConfig
    config: HybridConfig
    scores_cold_items = True

    def __init__(self, config: HybridConfig | None = None,
                 parts: Sequence[Recommender] | None = None, **params: Any) -> None:
        super().__init__(config, parts, **params)
        self._explained: tuple[int, list[np.ndarray]] | None = None
        self._explained_history: tuple[bytes, list[np.ndarray]] | None = None

    @classmethod
    def part_specs(cls, config: HybridConfig) -> tuple[ModelSpec, ...]:
        return config.components

    @classmethod
    def of(cls, models: list[tuple[Recommender, float]], normalize: Normalization = "zscore"
           ) -> Hybrid:
        """A hybrid of existing model objects (kept as they are, fitted or not)."""
        specs = [ModelSpec(kind=m.name, weight=w, config=m.config.model_dump(mode="json"))
                 for m, w in models]
        return cls(HybridConfig(components=tuple(specs), normalize=normalize),
                   parts=[m for m, _ in models])

    @property
    def weights(self) -> np.ndarray:
        return np.asarray([c.weight for c in self.config.components], dtype=np.float64)

    @property
    def component_names(self) -> list[str]:
        return [f"{i}_{m.name}" for i, m in enumerate(self.models)]

    def fit(self, data: Dataset) -> Self:
        kept: list[tuple[ModelSpec, Recommender]] = []
        for spec, model in zip(self.config.components, self.models, strict=True):
            try:
                model.fit(data)
            except InsufficientDataError as exc:  # e.g. EASE over a catalog too large
                log.warning("hybrid: %s left out of the blend: %s", model.name, exc.message)
                continue
            kept.append((spec, model))
        if not kept:
            raise InsufficientDataError("no component of the hybrid could be fitted")
        if len(kept) < len(self.models):
            self.config = self.config.model_copy(
                update={"components": tuple(spec for spec, _ in kept)})
            self.models = [model for _, model in kept]
        self._set_shape(data)
        self._explained = None
        self._last_parts: tuple[np.ndarray, list[np.ndarray], np.ndarray] | None = None
        return self

    def _set_shape(self, data: Dataset) -> None:
        self.history_ = training_matrix(data, "count")
        self.n_customers_, self.n_items_ = self.history_.shape

    def _blend(self, parts: list[np.ndarray], seen: np.ndarray) -> np.ndarray:
        total = np.zeros(parts[0].shape)
        scored = np.zeros(parts[0].shape, dtype=bool)
        for w, part in zip(self.weights, parts, strict=True):
            if w == 0:
                continue
            normed = normalize_rows(part, seen, self.config.normalize)
            ok = ~np.isnan(normed)
            total[ok] += w * normed[ok]
            scored |= ok
        total[~scored] = np.nan
        return total

    def component_scores(self, customer_idx: np.ndarray) -> list[np.ndarray]:
        """Each component's raw score rows for these customers."""
        return [m.score_many(customer_idx) for m in self.models]

    def _score_rows(self, customer_idx: np.ndarray) -> np.ndarray:
        seen = self._seen(customer_idx)
        parts = self.component_scores(customer_idx)
        # kept for explain_many, which asks next about the same batch's customers
        self._last_parts = (np.asarray(customer_idx).copy(), parts, seen)
        return self._blend(parts, seen)

    def _batch_parts(self, customer_idx: np.ndarray
                     ) -> tuple[list[np.ndarray], np.ndarray]:
        """Component score rows and seen masks of these customers, from the last scored
        batch when it holds them all (ranking scores a batch, then explains it)."""
        last = getattr(self, "_last_parts", None)
        if last is not None:
            idx, parts, seen = last
            order = np.argsort(idx, kind="stable")
            pos = np.searchsorted(idx[order], customer_idx)
            pos = np.minimum(pos, len(idx) - 1)
            at = order[pos] if len(idx) else pos
            if len(idx) and np.array_equal(idx[at], customer_idx):
                return [p[at] for p in parts], seen[at]
        return self.component_scores(customer_idx), self._seen(customer_idx)

    def _seen(self, customer_idx: np.ndarray) -> np.ndarray:
        seen = np.zeros((len(customer_idx), self.n_items_), dtype=bool)
        known = (customer_idx >= 0) & (customer_idx < self.n_customers_)
        seen[known] = self.history_[customer_idx[known]].toarray() > 0
        return seen

    def _scores_from_histories(self, histories: np.ndarray) -> np.ndarray:
        # Composite: an empty history is a question for the components (popularity answers).
        return self._scores_from_history(histories)

    def _scores_from_history(self, histories: np.ndarray) -> np.ndarray:
        parts = [m.fold_in(h) for m in self.models for h in histories]
        rows = len(histories)
        stacked = [np.vstack(parts[i * rows:(i + 1) * rows]) for i in range(len(self.models))]
        return self._blend(stacked, histories > 0)

    def fold_in_events(self, data: Dataset, events: pd.DataFrame) -> np.ndarray:
        from tailorcrm.recommend.base import history_row

        parts = [m.fold_in_events(data, events)[None, :] for m in self.models]
        seen = history_row(data, events, "count")[None, :] > 0
        return self._blend(parts, seen)[0]

    def contributions(self, customer_idx: int, item_idx: int) -> dict[str, float]:
        """Each component's weighted, normalized share of one item's blended score."""
        cached = self._explained
        if cached is None or cached[0] != customer_idx:
            idx = np.asarray([customer_idx])
            seen = self._seen(idx)
            rows = [normalize_rows(m.score_many(idx), seen, self.config.normalize)[0]
                    for m in self.models]
            cached = (customer_idx, rows)
            self._explained = cached  # explaining a list asks about one customer many times
        out = {}
        for name, w, row in zip(self.component_names, self.weights, cached[1], strict=True):
            out[name] = 0.0 if np.isnan(row[item_idx]) else float(w * row[item_idx])
        return out

    def explain(self, customer_idx: int, item_idx: int) -> list[Reason]:
        """The component that contributed most, then the first detailed reasons found
        among the components in order of contribution."""
        self._check_fitted()
        shares = self.contributions(customer_idx, item_idx)
        if not shares:
            return []
        order = sorted(shares, key=lambda k: -shares[k])
        top = self.models[self.component_names.index(order[0])]
        reasons = [Reason("model", f"top model: {top.name}", 1.0, top.name)]
        for name in order:
            if shares[name] <= 0:
                break
            detail = self.models[self.component_names.index(name)].explain(customer_idx,
                                                                          item_idx)
            if detail:
                return reasons + detail
        return reasons

    def explain_many(self, customer_idx: np.ndarray, item_idx: np.ndarray
                     ) -> list[list[Reason]]:
        """:meth:`explain` for many pairs: shares from the batch's normalized score rows;
        each component is asked only about the pairs its turn in the order comes to."""
        self._check_fitted()
        cs = np.asarray(customer_idx, dtype=np.int64).ravel()
        its = np.asarray(item_idx, dtype=np.int64).ravel()
        if not len(cs):
            return []
        unique, row = np.unique(cs, return_inverse=True)
        parts, seen = self._batch_parts(unique)
        shares = np.column_stack([
            np.nan_to_num(w * normalize_rows(part, seen, self.config.normalize)[row.ravel(), its],
                          nan=0.0)
            for w, part in zip(self.weights, parts, strict=True)])
        order = np.argsort(-shares, axis=1, kind="stable")
        out = [[Reason("model", f"top model: {self.models[o].name}", 1.0,
                       self.models[o].name)] for o in order[:, 0]]
        pending = np.arange(len(cs))
        for turn in range(len(self.models)):
            comp = order[pending, turn]
            pending = pending[shares[pending, comp] > 0]
            comp = order[pending, turn]
            still = np.ones(len(pending), dtype=bool)
            for m in np.unique(comp):
                at = np.flatnonzero(comp == m)
                pairs = pending[at]
                for k, pos, detail in zip(at, pairs,
                                          self.models[m].explain_many(cs[pairs], its[pairs]),
                                          strict=True):
                    if detail:
                        out[pos] = out[pos] + detail
                        still[k] = False
            pending = pending[still]
            if not len(pending):
                break
        return out

    def explain_history(self, history: np.ndarray, item_idx: int) -> list[Reason]:
        """As :meth:`explain`, for a history row (a customer's live, folded-in history)."""
        key = history.tobytes()
        if self._explained_history is None or self._explained_history[0] != key:
            seen = (history > 0)[None, :]
            rows = [normalize_rows(m.fold_in(history)[None, :], seen, self.config.normalize)[0]
                    for m in self.models]
            self._explained_history = (key, rows)
        shares = {}
        for name, w, row in zip(self.component_names, self.weights, self._explained_history[1],
                                strict=True):
            shares[name] = 0.0 if np.isnan(row[item_idx]) else float(w * row[item_idx])
        order = sorted(shares, key=lambda k: -shares[k])
        top = self.models[self.component_names.index(order[0])]
        reasons = [Reason("model", f"top model: {top.name}", 1.0, top.name)]
        for name in order:
            if shares[name] <= 0:
                break
            model = self.models[self.component_names.index(name)]
            detail = model.explain_history(history, item_idx)
            if detail:
                return reasons + detail
        return reasons
