"""Hyper-parameter and blend-weight search on a validation split carved from training data."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from pydantic import Field

from tailorcrm.data.dataset import Dataset
from tailorcrm.evaluation.metrics import ranking_metrics
from tailorcrm.evaluation.splits import stratified_item
from tailorcrm.recommend.base import ModelConfig, Recommender, Weighting
from tailorcrm.recommend.hybrid import ComponentSpec, HybridConfig, Normalization, normalize_rows
from tailorcrm.recommend.ranking import top_k
from tailorcrm.recommend.registry import build_model

log = logging.getLogger(__name__)


class TuningConfig(ModelConfig):
    """The search: the validation carve, the candidate grids and the weight steps.

    The validation split is the same stratified-per-item protocol applied to the training
    events only, so the test split is never looked at.
    """

    ratio: float = Field(0.75, gt=0, lt=1)
    seed: int = 42
    k: int = Field(10, gt=0)
    weighting: Weighting = "binary"
    #: EASE candidates as (weighting, λ, dropout); dropout > 0 drops the zero diagonal.
    ease_grid: tuple[tuple[Weighting, float, float], ...] = (
        ("binary", 500.0, 0.0), ("binary", 200.0, 0.7), ("binary", 400.0, 0.7),
        ("catalog", 200.0, 0.7), ("catalog", 400.0, 0.7), ("catalog", 800.0, 0.7))
    #: ALS candidates as (factors, alpha), trained on the ``weighting`` matrix.
    als_grid: tuple[tuple[int, float], ...] = ((16, 1.0), (16, 3.0), (32, 3.0))
    #: Further families, each tuned alone (best of its candidates) before the blend.
    extra: tuple[tuple[ComponentSpec, ...], ...] = (
        (ComponentSpec(kind="itemknn", config={"similarity": "bm25", "k": 100}),),
        (ComponentSpec(kind="userknn", config={"k": 50}),),
        tuple(ComponentSpec(kind="ease", config={
            "side": "customer", "weighting": "catalog", "lam": lam, "dropout": 0.7,
            "zero_diagonal": False}) for lam in (300.0, 1000.0, 3000.0)),
    )
    weights: tuple[float, ...] = (0.0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5)
    passes: int = Field(2, gt=0)
    normalize: Normalization = "std"
    random_state: int = 42


@dataclass
class TuningResult:
    """The chosen hybrid, its validation nDCG and every trial made on the way."""

    config: HybridConfig
    validation_ndcg: float
    seconds: float
    trials: list[dict[str, Any]] = field(default_factory=list)


class _Validation:
    """A train/validation carve of the training data and a fast nDCG on it."""

    def __init__(self, data: Dataset, cfg: TuningConfig) -> None:
        fit_events, val_events = stratified_item(data.events, ratio=cfg.ratio, seed=cfg.seed)
        self.fit_data = data.with_events(fit_events)
        self.relevant = data.with_events(val_events).interaction_matrix(weighting="binary")
        self.seen = self.fit_data.interaction_matrix(weighting="count").toarray() > 0
        self.customers = np.arange(data.n_customers)
        self.k = cfg.k

    def scores(self, model: Recommender) -> np.ndarray:
        return model.fit(self.fit_data).score_many(self.customers)

    def ndcg(self, scores: np.ndarray) -> float:
        masked = np.where(self.seen, np.nan, scores)
        return ranking_metrics(top_k(masked, self.k), self.relevant, self.k)["ndcg"]


def _spec(kind: str, weighting: Weighting, **config: Any) -> ComponentSpec:
    return ComponentSpec(kind=kind, config={"weighting": weighting, **config})


def _search_weights(val: _Validation, normed: list[np.ndarray], cfg: TuningConfig
                    ) -> tuple[float, np.ndarray]:
    """Coordinate search over the blend weights, the first component fixed at 1."""
    weights = np.zeros(len(normed))
    weights[0] = 1.0

    def blend_ndcg(ws: np.ndarray) -> float:
        total = sum(wi * np.nan_to_num(n) for wi, n in zip(ws, normed, strict=True) if wi)
        return val.ndcg(np.asarray(total))

    best = blend_ndcg(weights)
    for _ in range(cfg.passes):
        for j in range(1, len(weights)):
            for candidate in cfg.weights:
                trial = weights.copy()
                trial[j] = candidate
                ndcg = blend_ndcg(trial)
                if ndcg > best + 1e-6:
                    best, weights = ndcg, trial
    return best, weights


def tune_hybrid(data: Dataset, config: TuningConfig | None = None) -> TuningResult:
    """Pick EASE's λ/dropout, ALS's factors/alpha and the blend weights on validation.

    ALS and the extra components are tuned alone first; then, for every EASE candidate
    (weight 1), a coordinate search over the others' weights (``passes`` times) keeps every
    weight that improves validation nDCG@k; the best EASE + weights win.
    """
    cfg = config or TuningConfig()
    start = time.perf_counter()
    val = _Validation(data, cfg)
    trials: list[dict[str, Any]] = []

    def run(spec: ComponentSpec) -> tuple[float, np.ndarray]:
        scores = val.scores(build_model(spec.kind, spec.config))
        ndcg = val.ndcg(scores)
        trials.append({"kind": spec.kind, "config": spec.config, "ndcg": ndcg})
        log.info("validation nDCG@%d %s %s = %.4f", cfg.k, spec.kind, spec.config, ndcg)
        return ndcg, normalize_rows(scores, val.seen, cfg.normalize)

    def best_of(specs: list[ComponentSpec]) -> tuple[ComponentSpec, np.ndarray]:
        best: tuple[float, ComponentSpec, np.ndarray] | None = None
        for spec in specs:
            ndcg, normed = run(spec)
            if best is None or ndcg > best[0]:
                best = (ndcg, spec, normed)
        assert best is not None
        return best[1], best[2]

    w = cfg.weighting
    anchors = [_spec("ease", ew, lam=lam, dropout=p, zero_diagonal=p == 0)
               for ew, lam, p in cfg.ease_grid]
    others = [
        best_of([_spec("als", w, factors=f, alpha=a, random_state=cfg.random_state)
                 for f, a in cfg.als_grid]),
        *[best_of([_spec(e.kind, w, **e.config) for e in family]) for family in cfg.extra],
    ]
    best = -1.0
    specs: list[ComponentSpec] = []
    weights = np.zeros(0)
    for anchor in anchors:
        normed = [run(anchor)[1], *[n for _, n in others]]
        ndcg, ws = _search_weights(val, normed, cfg)
        trials.append({"kind": "blend", "anchor": anchor.config, "weights": ws.tolist(),
                       "ndcg": ndcg})
        if ndcg > best:
            best, weights, specs = ndcg, ws, [anchor, *[s for s, _ in others]]
    components = tuple(
        ComponentSpec(kind=s.kind, weight=round(float(wi), 4), config=s.config)
        for s, wi in zip(specs, weights, strict=True) if wi > 0)
    result = HybridConfig(components=components, normalize=cfg.normalize)
    seconds = time.perf_counter() - start
    log.info("tuned hybrid: validation nDCG@%d = %.4f in %.1f s", cfg.k, best, seconds)
    return TuningResult(config=result, validation_ndcg=best, seconds=seconds, trials=trials)


def main() -> None:  # pragma: no cover - reproduces the shipped default on MovieLens 100K
    """Tune on ML-100K's stratified-item training part: ``python -m ...tuning [u.data]``."""
    import json
    import sys

    from tailorcrm.evaluation.loaders import read_movielens

    logging.basicConfig(level=logging.INFO)
    path = sys.argv[1] if len(sys.argv) > 1 else "../shared/data/movielens-100k/u.data"
    data = Dataset.from_events(read_movielens(path))
    train, _ = stratified_item(data.events, ratio=0.75, seed=42)
    result = tune_hybrid(data.with_events(train))
    json.dump({"config": result.config.model_dump(mode="json"),
               "validation_ndcg": result.validation_ndcg, "seconds": result.seconds},
              sys.stdout, indent=2)


if __name__ == "__main__":  # pragma: no cover
    main()
