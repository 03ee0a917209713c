"""Fallback chain for cold start: the first model that can score a customer answers."""

from __future__ import annotations

from typing import Self

import numpy as np
import pandas as pd
from pydantic import Field

from tailorcrm.data.dataset import Dataset
from tailorcrm.recommend.base import Composite, ModelConfig, Recommender, training_matrix
from tailorcrm.recommend.reasons import Reason
from tailorcrm.recommend.spec import ModelSpec


class FallbackConfig(ModelConfig):
    """The chain, most personal first (e.g. hybrid → segment popularity → popularity)."""

    models: tuple[ModelSpec, ...] = Field(min_length=1)


class FallbackChain(Composite):
    """Asks each model in turn; a model whose row is all NaN defers to the next.

    As Surprise's ``PredictionImpossible``, the chain records who answered:
    :meth:`score_with_source` returns, per customer, the name of the model that did. The
    chain is handed its models built (``registry.build_model("fallback", config)`` or
    :meth:`of`).
    """

    name = "fallback"
    config_class = FallbackConfig
    config: FallbackConfig
    scores_cold_items = True

    @classmethod
    def part_specs(cls, config: FallbackConfig) -> tuple[ModelSpec, ...]:
        return config.models

    @classmethod
    def of(cls, models: list[Recommender]) -> FallbackChain:
        """A chain of existing model objects (kept as they are, fitted or not)."""
        specs = [ModelSpec(kind=m.name, config=m.config.model_dump(mode="json"))
                 for m in models]
        return cls(FallbackConfig(models=tuple(specs)), parts=list(models))

    @property
    def model_names(self) -> list[str]:
        return [f"{i}_{m.name}" for i, m in enumerate(self.models)]

    def fit(self, data: Dataset) -> Self:
        self._answered: tuple[int, Recommender | None] | None = None
        self._last_answered: dict[int, int] | None = None
        for model in self.models:
            model.fit(data)
        self.history_ = training_matrix(data, "count")
        self.n_customers_, self.n_items_ = self.history_.shape
        return self

    def score_with_source(self, customer_idx: np.ndarray) -> tuple[np.ndarray, list[str | None]]:
        """Score rows and, per row, the name of the model that answered (None: nobody)."""
        self._check_fitted()
        idx = np.asarray(customer_idx, dtype=np.int64).ravel()
        out = np.full((len(idx), self.n_items_), np.nan)
        source: list[str | None] = [None] * len(idx)
        pending = np.arange(len(idx))
        which = np.full(len(idx), -1, dtype=np.int64)
        for m, model in enumerate(self.models):
            if not len(pending):
                break
            rows = model.score_many(idx[pending])
            answered = ~np.all(np.isnan(rows), axis=1)
            out[pending[answered]] = rows[answered]
            for i in pending[answered]:
                source[i] = model.name
            which[pending[answered]] = m
            pending = pending[~answered]
        # kept for explain_many, which asks next about the same batch's customers
        self._last_answered = dict(zip(idx.tolist(), which.tolist(), strict=True))
        return out, source

    def answering_model(self, customer_idx: int) -> str | None:
        """The name of the model that answers for one customer."""
        at = int(self.answering_index(np.asarray([customer_idx]))[0])
        return None if at < 0 else self.models[at].name

    def _score_rows(self, customer_idx: np.ndarray) -> np.ndarray:
        return self.score_with_source(customer_idx)[0]

    def _scores_from_histories(self, histories: np.ndarray) -> np.ndarray:
        # Composite: an empty history is a question for the components (popularity answers).
        return self._scores_from_history(histories)

    def _scores_from_history(self, histories: np.ndarray) -> np.ndarray:
        return np.vstack([self._first([m.fold_in(h) for m in self.models]) for h in histories])

    def fold_in_events(self, data: Dataset, events: pd.DataFrame) -> np.ndarray:
        return self._first([m.fold_in_events(data, events) for m in self.models])

    def _first(self, rows: list[np.ndarray]) -> np.ndarray:
        for row in rows:
            if not np.all(np.isnan(row)):
                return row
        return rows[-1]

    def explain(self, customer_idx: int, item_idx: int) -> list[Reason]:
        self._check_fitted()
        model = self._answering(customer_idx)
        return [] if model is None else model.explain(customer_idx, item_idx)

    def explain_many(self, customer_idx: np.ndarray, item_idx: np.ndarray
                     ) -> list[list[Reason]]:
        self._check_fitted()
        cs = np.asarray(customer_idx, dtype=np.int64).ravel()
        its = np.asarray(item_idx, dtype=np.int64).ravel()
        unique, row = np.unique(cs, return_inverse=True)
        answering = self.answering_index(unique)[row.ravel()]
        out: list[list[Reason]] = [[] for _ in range(len(cs))]
        for m, model in enumerate(self.models):
            pairs = np.flatnonzero(answering == m)
            if len(pairs):
                for pos, reasons in zip(pairs, model.explain_many(cs[pairs], its[pairs]),
                                        strict=True):
                    out[pos] = reasons
        return out

    def answering_index(self, customer_idx: np.ndarray) -> np.ndarray:
        """Per customer, the position of the first model that scores them (-1: none)."""
        idx = np.asarray(customer_idx, dtype=np.int64).ravel()
        last: dict[int, int] | None = getattr(self, "_last_answered", None)
        if last is not None and all(c in last for c in idx.tolist()):
            return np.asarray([last[c] for c in idx.tolist()], dtype=np.int64)
        out = np.full(len(idx), -1, dtype=np.int64)
        pending = np.arange(len(idx))
        for m, model in enumerate(self.models):
            if not len(pending):
                break
            answered = ~np.all(np.isnan(model.score_many(idx[pending])), axis=1)
            out[pending[answered]] = m
            pending = pending[~answered]
        return out

    def _answering(self, customer_idx: int) -> Recommender | None:
        """The first model that scores this customer; remembered for the last customer,
        since explaining a list asks about one customer once per item."""
        cached = getattr(self, "_answered", None)  # absent on a loaded model
        if cached is not None and cached[0] == customer_idx:
            return cached[1]
        found = next((m for m in self.models
                      if not np.all(np.isnan(m.score(customer_idx)))), None)
        self._answered = (customer_idx, found)
        return found

    def explain_history(self, history: np.ndarray, item_idx: int) -> list[Reason]:
        answering = self._answering_history(history)
        return answering.explain_history(history, item_idx) if answering is not None else []

    def _answering_history(self, history: np.ndarray) -> Recommender | None:
        """The first model that scores this history row, found once per row (a list's items
        are explained one after the other from the same row)."""
        key = history.tobytes()
        cached: tuple[bytes, Recommender | None] | None = getattr(self, "_answered_history",
                                                                 None)
        if cached is not None and cached[0] == key:
            return cached[1]
        found = next((m for m in self.models if not np.all(np.isnan(m.fold_in(history)))),
                     None)
        self._answered_history = (key, found)
        return found
