"""The served model from Spark-trained arrays: the single-node classes, given their state.

A Spark run serves a fallback chain of a hybrid (ALS + cosine item-kNN, ``std``-normalised)
and popularity (global or per segment). The models are the single-node ones
(:class:`~tailorcrm.recommend.als.ALS`, :class:`~tailorcrm.recommend.itemknn.ItemKNN`, ...),
handed the arrays Spark learned through ``_set_state`` — exactly what
:func:`~tailorcrm.recommend.registry.load_model` does with a saved artifact. So the saved
artifact is the same npz + JSON, and serving, reasons and fold-in work on it unchanged. The
same assembly runs on each executor over a slice of customers (the precompute).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
from pydantic import BaseModel, ConfigDict, Field
from scipy import sparse

from tailorcrm.data.dataset import Dataset
from tailorcrm.recommend.als import ALS, ALSConfig
from tailorcrm.recommend.base import Recommender, pack_sparse, training_matrix
from tailorcrm.recommend.fallback import FallbackChain
from tailorcrm.recommend.hybrid import Hybrid
from tailorcrm.recommend.itemknn import ItemKNN, ItemKNNConfig
from tailorcrm.recommend.popularity import Popularity, PopularityConfig


class SparkModelsConfig(BaseModel):
    """What a Spark run trains: ALS and item-kNN blended, popularity as the fallback."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    als: ALSConfig = Field(default_factory=ALSConfig)
    itemknn: ItemKNNConfig = Field(default_factory=lambda: ItemKNNConfig(weighting="binary"))
    popularity: PopularityConfig = Field(default_factory=PopularityConfig)
    als_weight: float = Field(0.7, ge=0)
    itemknn_weight: float = Field(0.3, ge=0)
    #: DIMSUM threshold of the item cosine: 0 is exact; above it, pairs likely below the
    #: threshold are sampled away (for catalogs where the exact product is too costly).
    similarity_threshold: float = Field(0.0, ge=0, le=1)


@dataclass
class TrainedArrays:
    """Everything learned that is not per customer (broadcast to executors)."""

    config: SparkModelsConfig
    item_factors: np.ndarray
    similarity: sparse.csr_matrix
    popularity_global: np.ndarray
    segment_scores: np.ndarray
    segment_names: list[str]
    #: items nobody interacted with in training (the single-node models mask them)
    cold_items: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))


def histories(data: Dataset, config: SparkModelsConfig) -> dict[str, sparse.csr_matrix]:
    """The training matrices of a (local) Dataset, by weighting, as the models build them."""
    wanted = {config.als.weighting, config.itemknn.weighting, config.popularity.weighting,
              "count"}
    return {w: training_matrix(data, w) for w in wanted}  # type: ignore[arg-type]


def assemble(trained: TrainedArrays, user_factors: np.ndarray,
             history: Mapping[str, sparse.csr_matrix], segment_of: np.ndarray) -> FallbackChain:
    """The fitted chain for customers whose rows are ``user_factors`` / ``history`` rows."""
    cfg = trained.config
    als = ALS(cfg.als)
    als._set_state({**pack_sparse("history_", history[cfg.als.weighting]),
                    "user_factors_": np.asarray(user_factors, dtype=np.float32),
                    "item_factors_": trained.item_factors})
    knn = ItemKNN(cfg.itemknn)
    knn._set_state({**pack_sparse("history_", history[cfg.itemknn.weighting]),
                    **pack_sparse("similarity_", trained.similarity)})
    pop = Popularity(cfg.popularity)
    pop_history = sparse.csr_matrix(history[cfg.popularity.weighting], copy=True)
    pop_history.data = np.maximum(pop_history.data, 0.0)
    pop._set_state({**pack_sparse("history_", pop_history),
                    "global_": trained.popularity_global,
                    "segment_of_": np.asarray(segment_of, dtype=np.int64),
                    "segment_scores_": trained.segment_scores,
                    "segment_names_": np.asarray(trained.segment_names, dtype=np.str_)})
    if len(trained.cold_items):
        # a slice of customers does not show which items anybody bought: the global mask
        for model in (als, knn):
            model._cold_items = trained.cold_items
    parts: list[tuple[Recommender, float]] = [(als, cfg.als_weight),
                                              (knn, cfg.itemknn_weight)]
    hybrid = Hybrid.of(parts, normalize="std")
    hybrid._set_state(pack_sparse("history_", history["count"]))
    chain = FallbackChain.of([hybrid, pop])
    chain._set_state(pack_sparse("history_", history["count"]))
    return chain
