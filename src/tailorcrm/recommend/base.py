"""The one model contract every recommender implements: fit, score, fold-in, save and load."""

from __future__ import annotations

import json
import logging
import shutil
from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Self

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict
from scipy import sparse

from tailorcrm.data.dataset import Dataset
from tailorcrm.errors import ConfigError, NotFittedError
from tailorcrm.recommend.reasons import Reason

if TYPE_CHECKING:
    from tailorcrm.recommend.spec import ModelSpec

log = logging.getLogger(__name__)

Weighting = Literal["catalog", "binary", "count", "value"]
ARTIFACT_JSON = "model.json"
ARTIFACT_NPZ = "arrays.npz"


class ModelConfig(BaseModel):
    """Base of every model config: validated, serialisable, no unknown keys."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Recommender(ABC):
    """A model that scores items for customers, on vocabulary indices only.

    Subclasses set ``name`` and ``config_class``, implement :meth:`fit` (which sets
    ``history_``, ``n_customers_`` and ``n_items_``) and :meth:`_scores_from_history`
    (scores of every item for non-empty history rows: the fold-in), and list their learned arrays in
    :meth:`_get_state` / :meth:`_set_state` so :meth:`save` / :meth:`load` round-trip
    without pickle. Scores are NaN where the model cannot say anything (a customer it has
    no history for, an item it never saw); ranking, exclusions and fallbacks live outside.
    """

    name: ClassVar[str] = "base"
    config_class: ClassVar[type[ModelConfig]] = ModelConfig
    #: False for models that learn items only from interactions: they score NaN for items
    #: nobody interacted with in training (cold items), so content can take over.
    scores_cold_items: ClassVar[bool] = False

    def __init__(self, config: ModelConfig | None = None, **params: Any) -> None:
        if config is not None and params:
            raise ConfigError("pass a config or keyword parameters, not both")
        if config is not None and not isinstance(config, self.config_class):
            raise ConfigError(f"{self.name} expects a {self.config_class.__name__}")
        self.config = config if config is not None else self.config_class(**params)

    # -- contract ------------------------------------------------------------------------
    @abstractmethod
    def fit(self, data: Dataset) -> Self:
        """Learn from ``data`` (customers who denied personalization are left out)."""

    @abstractmethod
    def _scores_from_history(self, histories: np.ndarray) -> np.ndarray:
        """All-item scores for each row of ``histories`` (``n`` × ``n_items``)."""

    def fold_in(self, history: np.ndarray) -> np.ndarray:
        """Scores of every item for a customer with this ``n_items`` history row.

        This is the live-feedback path: a customer's updated history gives their next
        scores without retraining. NaN everywhere when the history holds nothing.
        """
        self._check_fitted()
        histories = np.asarray(history, dtype=np.float64)[None, :]
        return self._mask_cold(self._scores_from_histories(histories))[0]

    def fold_in_events(self, data: Dataset, events: pd.DataFrame) -> np.ndarray:
        """Scores for one customer from their whole, updated event history (live feedback).

        ``events`` are that customer's events (the Dataset's event columns); they are weighed
        with the tenant's catalog in this model's own ``weighting`` and folded in.
        """
        return self.fold_in(history_row(data, events, getattr(self.config, "weighting",
                                                                 "catalog")))

    def score(self, customer_idx: int, item_idx: np.ndarray | None = None) -> np.ndarray:
        """Scores of ``item_idx`` (all items if None) for one customer; NaN if unknown."""
        return self.score_many(np.asarray([customer_idx]), item_idx)[0]

    def score_many(
        self, customer_idx: np.ndarray, item_idx: np.ndarray | None = None
    ) -> np.ndarray:
        """Scores for several customers, one row each (``len(customer_idx)`` × items)."""
        self._check_fitted()
        idx = np.asarray(customer_idx, dtype=np.int64).ravel()
        return self._select(self._mask_cold(self._score_rows(idx)), item_idx)

    def explain(self, customer_idx: int, item_idx: int) -> list[Reason]:
        """Why ``item_idx`` scores for this customer (empty when the model cannot say)."""
        self._check_fitted()
        if not 0 <= customer_idx < self.n_customers_:
            return []
        return self.explain_history(self.history_[customer_idx].toarray().ravel(), item_idx)

    def explain_history(self, history: np.ndarray, item_idx: int) -> list[Reason]:
        """Why ``item_idx`` scores for a customer with this history row (live feedback)."""
        return []

    def explain_many(self, customer_idx: np.ndarray, item_idx: np.ndarray
                     ) -> list[list[Reason]]:
        """:meth:`explain` for many ``(customer, item)`` pairs at once (the batch path).

        ``customer_idx`` and ``item_idx`` are parallel 1-D arrays; the answer holds one
        reason list per pair, equal to ``explain(customer_idx[j], item_idx[j])``. Models
        override it to build reasons from arrays; this default asks pair by pair.
        """
        self._check_fitted()
        cs = np.asarray(customer_idx, dtype=np.int64).ravel()
        its = np.asarray(item_idx, dtype=np.int64).ravel()
        if not self.explains:
            return [[] for _ in range(len(cs))]
        return [self.explain(int(c), int(i)) for c, i in zip(cs, its, strict=True)]

    @property
    def explains(self) -> bool:
        """False for a model that never gives reasons (neither explain method overridden)."""
        cls = type(self)
        return cls.explain is not Recommender.explain \
            or cls.explain_history is not Recommender.explain_history

    def _score_rows(self, customer_idx: np.ndarray) -> np.ndarray:
        """All-item scores of customers from their training history (override to cache)."""
        known = (customer_idx >= 0) & (customer_idx < self.n_customers_)
        histories = np.zeros((len(customer_idx), self.n_items_))
        if known.any():
            histories[known] = self.history_[customer_idx[known]].toarray()
        return self._scores_from_histories(histories)

    def _scores_from_histories(self, histories: np.ndarray) -> np.ndarray:
        empty = ~np.any(histories != 0, axis=1)
        out = np.full(histories.shape, np.nan)
        if (~empty).any():
            out[~empty] = self._scores_from_history(histories[~empty])
        return out

    # -- shared helpers ------------------------------------------------------------------
    def _mask_cold(self, scores: np.ndarray) -> np.ndarray:
        if not self.scores_cold_items:
            cold: np.ndarray | None = getattr(self, "_cold_items", None)
            if cold is None:
                cold = np.asarray(self.history_.getnnz(axis=0)) == 0
                self._cold_items = cold
            scores[:, cold] = np.nan
        return scores

    def _select(self, scores: np.ndarray, item_idx: np.ndarray | None) -> np.ndarray:
        if item_idx is None:
            return scores
        idx = np.asarray(item_idx, dtype=np.int64)
        ok = (idx >= 0) & (idx < self.n_items_)
        out = np.full((*scores.shape[:-1], len(idx)), np.nan)
        out[..., ok] = scores[..., idx[ok]]
        return out

    @property
    def is_fitted(self) -> bool:
        return hasattr(self, "n_items_")

    def _check_fitted(self) -> None:
        if not self.is_fitted:
            raise NotFittedError(f"{self.name} is not fitted; call fit() first")

    # -- persistence ---------------------------------------------------------------------
    def _get_state(self) -> dict[str, np.ndarray]:
        """Learned arrays to save (sparse matrices are split by :func:`pack_sparse`)."""
        return pack_sparse("history_", self.history_)

    def _set_state(self, arrays: dict[str, np.ndarray]) -> None:
        self.history_ = unpack_sparse("history_", arrays)
        self.n_customers_, self.n_items_ = self.history_.shape

    def save(self, path: str | Path) -> Path:
        """Write ``model.json`` (kind + config) and ``arrays.npz`` into the folder ``path``."""
        self._check_fitted()
        folder = Path(path)
        folder.mkdir(parents=True, exist_ok=True)
        meta = {"kind": self.name, "config": self.config.model_dump(mode="json")}
        (folder / ARTIFACT_JSON).write_text(json.dumps(meta, indent=2, sort_keys=True))
        np.savez_compressed(folder / ARTIFACT_NPZ, **self._get_state())  # type: ignore[arg-type]
        return folder

    @classmethod
    def load(cls, path: str | Path) -> Self:
        """Read a model written by :meth:`save` (no pickle is ever loaded)."""
        model = cls(cls.saved_config(path))
        model._read_state(path)
        return model

    @classmethod
    def saved_config(cls, path: str | Path) -> ModelConfig:
        """The config in ``model.json`` of an artifact; ConfigError if another kind's."""
        meta = json.loads((Path(path) / ARTIFACT_JSON).read_text())
        if meta.get("kind") != cls.name:
            raise ConfigError(f"artifact holds a {meta.get('kind')!r}, not a {cls.name!r}")
        return cls.config_class.model_validate(meta["config"])

    def _read_state(self, path: str | Path) -> None:
        with np.load(Path(path) / ARTIFACT_NPZ, allow_pickle=False) as npz:
            self._set_state({k: npz[k] for k in npz.files})

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.config!r})"


def training_matrix(
    data: Dataset, weighting: Weighting = "catalog", *, clip_negative: bool = True
) -> sparse.csr_matrix:
    """Customer × item preference matrix with consent-denied customers' rows emptied."""
    matrix = data.interaction_matrix(weighting=weighting, clip_negative=clip_negative)
    allowed = data.personalizable_customers()
    if not allowed.all():
        matrix = sparse.csr_matrix(sparse.diags(allowed.astype(np.float64)) @ matrix)
        matrix.eliminate_zeros()
        log.debug("left %d consent-denied customers out of training", int((~allowed).sum()))
    return sparse.csr_matrix(matrix, dtype=np.float64)


def history_row(data: Dataset, events: pd.DataFrame, weighting: Weighting) -> np.ndarray:
    """One customer's ``n_items`` preference row from their events (any customer id)."""
    if data.n_customers == 0 or events.empty:
        return np.zeros(data.n_items)
    # Relabel to a known id: interaction_matrix skips ids outside the vocabulary, and a new
    # customer's events must still count.
    own = events.assign(customer_id=data.customer_vocab.id(0))
    matrix = data.with_events(own).interaction_matrix(weighting=weighting, clip_negative=True)
    return np.asarray(matrix.sum(axis=0), dtype=np.float64).ravel()


def pack_sparse(prefix: str, matrix: sparse.spmatrix) -> dict[str, np.ndarray]:
    """A CSR matrix as plain arrays for ``.npz`` (``<prefix>data`` / ``indices`` / ...)."""
    csr = sparse.csr_matrix(matrix)
    return {
        f"{prefix}data": csr.data,
        f"{prefix}indices": csr.indices,
        f"{prefix}indptr": csr.indptr,
        f"{prefix}shape": np.asarray(csr.shape, dtype=np.int64),
    }


def unpack_sparse(prefix: str, arrays: dict[str, np.ndarray]) -> sparse.csr_matrix:
    """The inverse of :func:`pack_sparse`."""
    shape = tuple(int(x) for x in arrays[f"{prefix}shape"])
    return sparse.csr_matrix(
        (arrays[f"{prefix}data"], arrays[f"{prefix}indices"], arrays[f"{prefix}indptr"]),
        shape=shape,
    )


class Composite(Recommender):
    """A recommender made of other recommenders (a hybrid, a fallback chain).

    Composites are handed their parts built: the registry builds (or loads) the parts
    named by :meth:`part_specs` and passes them in, and :meth:`of` wraps existing models;
    a composite never looks a model kind up itself, so the import graph stays a tree.
    """

    models: list[Recommender]

    def __init__(self, config: ModelConfig | None = None,
                 parts: Sequence[Recommender] | None = None, **params: Any) -> None:
        super().__init__(config, **params)
        if parts is None:
            raise ConfigError(f"a {self.name} is given its built parts: build it with "
                              f"tailorcrm.recommend.registry.build_model or {type(self).__name__}"
                              ".of(...)")
        kinds = [s.kind for s in self.part_specs(self.config)]
        if [m.name for m in parts] != kinds:
            raise ConfigError(f"the {self.name} config names parts {kinds}, "
                              f"got {[m.name for m in parts]}")
        self.models = list(parts)

    @classmethod
    @abstractmethod
    def part_specs(cls, config: Any) -> tuple[ModelSpec, ...]:
        """The specs of the parts, in order, that ``config`` names."""

    @classmethod
    def part_folders(cls, config: Any) -> list[str]:
        """The sub-folders the parts are saved in (``<position>_<kind>``)."""
        return [f"{i}_{s.kind}" for i, s in enumerate(cls.part_specs(config))]

    def save(self, path: str | Path) -> Path:
        folder = super().save(path)
        save_parts(folder, self.part_folders(self.config), self.models)
        return folder

    @classmethod
    def load(cls, path: str | Path) -> Self:
        """Composites load through the registry, which loads their parts first."""
        raise ConfigError(f"load a {cls.name} with tailorcrm.recommend.registry.load_model")

    @classmethod
    def load_with_parts(cls, path: str | Path, parts: Sequence[Recommender]) -> Self:
        """Read a composite written by :meth:`save`, given its loaded parts."""
        model = cls(cls.saved_config(path), parts=parts)
        model._read_state(path)
        return model


def save_parts(folder: Path, names: Sequence[str], models: Sequence[Recommender]) -> None:
    """Save a composite's models, one sub-folder each (hybrids and fallback chains)."""
    for name, model in zip(names, models, strict=True):
        sub = folder / name
        if sub.exists():
            shutil.rmtree(sub)
        model.save(sub)


def load_parts(folder: str | Path, names: Sequence[str], kinds: Sequence[str],
               owner: str) -> list[Recommender]:
    """Load the models :func:`save_parts` wrote; ConfigError if their kinds do not match."""
    from tailorcrm.recommend.registry import load_model  # the registry imports this module

    models = [load_model(Path(folder) / n) for n in names]
    if any(m.name != k for m, k in zip(models, kinds, strict=True)):
        raise ConfigError(f"models saved at {folder} do not match the {owner} config")
    return models
