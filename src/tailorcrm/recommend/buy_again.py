"""Buy again: repeat purchases scored by recency-weighted frequency, and its blend with a filler."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any, Self

import numpy as np
import pandas as pd
from pydantic import Field
from scipy import sparse

from tailorcrm.data.dataset import Dataset
from tailorcrm.recommend.base import (
    ModelConfig,
    Recommender,
    history_row,
    load_parts,
    save_parts,
    training_matrix,
)
from tailorcrm.recommend.reasons import Reason
from tailorcrm.recommend.spec import ModelSpec


class BuyAgainConfig(ModelConfig):
    """Hyper-parameters of :class:`BuyAgain`.

    ``types`` are the event types that count as a purchase. An event ``d`` days before the
    tenant's latest event weighs ``0.5 ** (d / half_life_days)`` (0: no decay). Each item's
    repeat rate (the share of its buyers who bought it more than once) is shrunk towards the
    catalog's by ``shrinkage`` pseudo buyers, so an item nobody re-buys (a tent) ranks below
    one everybody re-buys (milk) at equal frequency.
    """

    types: tuple[str, ...] = ("purchase",)
    half_life_days: float = Field(90.0, ge=0)
    shrinkage: float = Field(5.0, ge=0)


class BuyAgain(Recommender):
    """Scores the items a customer bought: decayed purchase count × the item's repeat rate.

    Items the customer never bought are NaN (the model cannot say), as is every item of a
    customer without purchases; composites (:class:`RepeatBlend`) fill in the rest.
    """

    name = "buy_again"
    config_class = BuyAgainConfig
    config: BuyAgainConfig

    def fit(self, data: Dataset) -> Self:
        cfg = self.config
        bought = data.with_events(data.events[data.events["type"].isin(list(cfg.types))])
        counts = training_matrix(bought, "count")
        decayed = counts.copy()
        ev = bought.events[bought.events["item_id"].notna()]
        if cfg.half_life_days > 0 and len(ev):
            age = (data.events["ts"].max() - ev["ts"]).dt.total_seconds().to_numpy() / 86400.0
            rows = data.customer_vocab.index(ev["customer_id"])
            cols = data.item_vocab.index(ev["item_id"])
            ok = (rows >= 0) & (cols >= 0)
            weights = 0.5 ** (np.maximum(age, 0.0) / cfg.half_life_days)
            decayed = sparse.csr_matrix((weights[ok], (rows[ok], cols[ok])), shape=counts.shape)
            decayed = decayed.multiply(counts > 0).tocsr()  # consent-denied rows stay empty
        buyers = np.asarray((counts > 0).sum(axis=0), dtype=np.float64).ravel()
        repeaters = np.asarray((counts > 1).sum(axis=0), dtype=np.float64).ravel()
        prior = repeaters.sum() / buyers.sum() if buyers.sum() > 0 else 0.0
        pulled = repeaters + cfg.shrinkage * prior
        self.repeat_rate_ = np.where(buyers + cfg.shrinkage > 0,
                                     pulled / np.maximum(buyers + cfg.shrinkage, 1e-12),
                                     prior) + 1e-6  # > 0: a bought item always scores
        self.history_ = sparse.csr_matrix(decayed, dtype=np.float64)
        self.n_customers_, self.n_items_ = self.history_.shape
        return self

    def _scores_from_history(self, histories: np.ndarray) -> np.ndarray:
        return np.where(histories > 0, histories * self.repeat_rate_, np.nan)

    def fold_in_events(self, data: Dataset, events: pd.DataFrame) -> np.ndarray:
        own = events[events["type"].isin(list(self.config.types))]
        return self.fold_in(history_row(data, own, "count"))

    def explain_history(self, history: np.ndarray, item_idx: int) -> list[Reason]:
        if not 0 <= item_idx < len(history) or history[item_idx] <= 0:
            return []
        return [Reason("model", "buy again: you bought it before", 1.0, self.name),
                Reason("history_item", "", 1.0, str(item_idx))]

    def _get_state(self) -> dict[str, np.ndarray]:
        return {**super()._get_state(), "repeat_rate_": self.repeat_rate_}

    def _set_state(self, arrays: dict[str, np.ndarray]) -> None:
        super()._set_state(arrays)
        self.repeat_rate_ = arrays["repeat_rate_"]


class RepeatBlendConfig(ModelConfig):
    """A repeat model and a filler: ``minmax(fill) + weight · repeat / max(repeat)``.

    Both parts are scaled per customer, so ``weight`` is what one bought item is worth
    against the filler's best item: 1 mixes them, 100 puts every repeat item first.
    """

    repeat: ModelSpec = Field(default_factory=lambda: ModelSpec(kind="buy_again"))
    fill: ModelSpec = Field(default_factory=lambda: ModelSpec(kind="popularity"))
    weight: float = Field(1.0, ge=0)


def _minmax(rows: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN rows stay NaN
        low = np.nanmin(rows, axis=1, keepdims=True)
        span = np.nanmax(rows, axis=1, keepdims=True) - low
    return (rows - low) / np.where(span > 0, span, 1.0)


def blend_repeats(fill: np.ndarray, repeat: np.ndarray, weight: float) -> np.ndarray:
    """The :class:`RepeatBlend` score rows from the two parts' raw score rows."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        top = np.nanmax(repeat, axis=1, keepdims=True) if repeat.size else repeat
    rep = np.nan_to_num(repeat / np.where(top > 0, top, 1.0), nan=0.0)
    out = np.nan_to_num(_minmax(fill), nan=0.0) + weight * rep
    out[np.isnan(fill) & np.isnan(repeat)] = np.nan
    return out


class RepeatBlend(Recommender):
    """Items the customer buys again, blended with a filler's items (popularity, a model).

    Composed, not inherited, like :class:`~tailorcrm.recommend.hybrid.Hybrid`: build it from
    specs or hand it models with :meth:`of`. Served with repeats allowed (a repeat is the
    point), so ranking must not exclude bought items.
    """

    name = "repeat_blend"
    config_class = RepeatBlendConfig
    config: RepeatBlendConfig
    scores_cold_items = True

    def __init__(self, config: RepeatBlendConfig | None = None, **params: Any) -> None:
        super().__init__(config, **params)
        from tailorcrm.recommend.registry import build_model

        self.models = [build_model(c.kind, c.config)
                       for c in (self.config.repeat, self.config.fill)]

    @classmethod
    def of(cls, repeat: Recommender, fill: Recommender, weight: float) -> RepeatBlend:
        """A blend of existing model objects (kept as they are, fitted or not)."""
        specs = [ModelSpec(kind=m.name, config=m.config.model_dump(mode="json"))
                 for m in (repeat, fill)]
        blend = cls(RepeatBlendConfig(repeat=specs[0], fill=specs[1], weight=weight))
        blend.models = [repeat, fill]
        return blend

    def fit(self, data: Dataset) -> Self:
        for model in self.models:
            model.fit(data)
        self.history_ = training_matrix(data, "count")
        self.n_customers_, self.n_items_ = self.history_.shape
        return self

    def _score_rows(self, customer_idx: np.ndarray) -> np.ndarray:
        repeat, fill = (m.score_many(customer_idx) for m in self.models)
        return blend_repeats(fill, repeat, self.config.weight)

    def _scores_from_histories(self, histories: np.ndarray) -> np.ndarray:
        return self._scores_from_history(histories)  # an empty history asks the filler

    def _scores_from_history(self, histories: np.ndarray) -> np.ndarray:
        repeat, fill = (np.vstack([m.fold_in(h) for h in histories]) for m in self.models)
        return blend_repeats(fill, repeat, self.config.weight)

    def fold_in_events(self, data: Dataset, events: pd.DataFrame) -> np.ndarray:
        repeat, fill = (m.fold_in_events(data, events)[None, :] for m in self.models)
        return blend_repeats(fill, repeat, self.config.weight)[0]

    def explain(self, customer_idx: int, item_idx: int) -> list[Reason]:
        self._check_fitted()
        repeat, fill = self.models
        if np.isfinite(repeat.score(customer_idx, np.asarray([item_idx]))[0]):
            return repeat.explain(customer_idx, item_idx)
        return fill.explain(customer_idx, item_idx)

    def explain_many(self, customer_idx: np.ndarray, item_idx: np.ndarray
                     ) -> list[list[Reason]]:
        self._check_fitted()
        repeat, fill = self.models
        cs = np.asarray(customer_idx, dtype=np.int64).ravel()
        its = np.asarray(item_idx, dtype=np.int64).ravel()
        unique, row = np.unique(cs, return_inverse=True)
        scores = repeat.score_many(unique)
        by_repeat = np.isfinite(scores[row.ravel(), its]) if len(cs) else np.zeros(0, bool)
        out: list[list[Reason]] = [[] for _ in range(len(cs))]
        for model, pairs in ((repeat, np.flatnonzero(by_repeat)),
                             (fill, np.flatnonzero(~by_repeat))):
            if len(pairs):
                for pos, reasons in zip(pairs, model.explain_many(cs[pairs], its[pairs]),
                                        strict=True):
                    out[pos] = reasons
        return out

    def explain_history(self, history: np.ndarray, item_idx: int) -> list[Reason]:
        repeat, fill = self.models
        return repeat.explain_history(history, item_idx) or fill.explain_history(history,
                                                                                 item_idx)

    def save(self, path: str | Path) -> Path:
        folder = super().save(path)
        save_parts(folder, ["0_repeat", "1_fill"], self.models)
        return folder

    @classmethod
    def load(cls, path: str | Path) -> Self:
        blend = super().load(path)
        blend.models = load_parts(path, ["0_repeat", "1_fill"],
                                  [blend.config.repeat.kind, blend.config.fill.kind], "blend")
        return blend
