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
from tailorcrm.recommend.base import ModelConfig, Weighting
from tailorcrm.recommend.hybrid import HybridConfig, Normalization, normalize_rows
from tailorcrm.recommend.ranking import top_k
from tailorcrm.recommend.registry import build
from tailorcrm.recommend.spec import ModelSpec

log = logging.getLogger(__name__)


class TuningConfig(ModelConfig):
    """The search: the validation carve, the candidate grids and the weight steps.

    The validation splits are the same stratified-per-item protocol applied to the training
    events only (one carve per seed in ``seeds``), so the test split is never looked at.
    """

    ratio: float = Field(0.75, gt=0, lt=1)
    k: int = Field(10, gt=0)
    weighting: Weighting = "binary"
    #: EASE candidates as (weighting, λ, dropout); dropout > 0 drops the zero diagonal.
    ease_grid: tuple[tuple[Weighting, float, float], ...] = (
        ("binary", 500.0, 0.0), ("binary", 200.0, 0.7), ("binary", 400.0, 0.7),
        ("catalog", 200.0, 0.7), ("catalog", 400.0, 0.7), ("catalog", 800.0, 0.7))
    #: ALS candidates as (factors, alpha), trained on the ``weighting`` matrix.
    als_grid: tuple[tuple[int, float], ...] = ((16, 1.0), (16, 3.0), (32, 3.0))
    #: Further families, each tuned alone (best of its candidates) before the blend.
    extra: tuple[tuple[ModelSpec, ...], ...] = (
        (ModelSpec(kind="itemknn", config={"similarity": "bm25", "k": 100}),),
        (ModelSpec(kind="userknn", config={"k": 50}),),
        tuple(ModelSpec(kind="ease", config={
            "side": "customer", "weighting": "catalog", "lam": lam, "dropout": 0.7,
            "zero_diagonal": False}) for lam in (300.0, 1000.0, 3000.0)),
    )
    weights: tuple[float, ...] = (0.0, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.7, 1.0)
    #: One validation carve per seed; candidates are judged on the mean nDCG over them.
    seeds: tuple[int, ...] = (42, 43)
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
    """Train/validation carves of the training data (one per seed) and a mean nDCG on them."""

    def __init__(self, data: Dataset, cfg: TuningConfig) -> None:
        self.folds = []
        for seed in cfg.seeds:
            fit_events, val_events = stratified_item(data.events, ratio=cfg.ratio, seed=seed)
            fit_data = data.with_events(fit_events)
            relevant = data.with_events(val_events).interaction_matrix(weighting="binary")
            seen = fit_data.interaction_matrix(weighting="count").toarray() > 0
            self.folds.append((fit_data, relevant, seen))
        self.customers = np.arange(data.n_customers)
        self.k = cfg.k
        self.normalize: Normalization = cfg.normalize

    def scores(self, spec: ModelSpec) -> list[np.ndarray]:
        """Normalized validation scores of a fresh model per fold."""
        out = []
        for fit_data, _, seen in self.folds:
            model = build(spec).fit(fit_data)
            out.append(normalize_rows(model.score_many(self.customers), seen, self.normalize))
        return out

    def ndcg(self, scores: list[np.ndarray]) -> float:
        values = []
        for s, (_, relevant, seen) in zip(scores, self.folds, strict=True):
            masked = np.where(seen, np.nan, s)
            values.append(ranking_metrics(top_k(masked, self.k), relevant, self.k)["ndcg"])
        return float(np.mean(values))


def _spec(kind: str, weighting: Weighting, **config: Any) -> ModelSpec:
    """A candidate; its own ``weighting`` (in ``config``) wins over the default one."""
    return ModelSpec(kind=kind, config={"weighting": weighting, **config})


def _search_weights(val: _Validation, normed: list[list[np.ndarray]], cfg: TuningConfig
                    ) -> tuple[float, np.ndarray]:
    """Coordinate search over the blend weights, the first component fixed at 1."""
    weights = np.zeros(len(normed))
    weights[0] = 1.0

    def blend_ndcg(ws: np.ndarray) -> float:
        folds = []
        for f in range(len(val.folds)):  # as Hybrid blends: NaN only where no part scores
            parts = [wi * n[f] for wi, n in zip(ws, normed, strict=True) if wi]
            total = np.nansum(parts, axis=0)
            total[np.all(np.isnan(parts), axis=0)] = np.nan
            folds.append(total)
        return val.ndcg(folds)

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

    def run(spec: ModelSpec) -> tuple[float, list[np.ndarray]]:
        normed = val.scores(spec)
        ndcg = val.ndcg(normed)
        trials.append({"kind": spec.kind, "config": spec.config, "ndcg": ndcg})
        log.info("validation nDCG@%d %s %s = %.4f", cfg.k, spec.kind, spec.config, ndcg)
        return ndcg, normed

    def best_of(specs: list[ModelSpec]) -> tuple[ModelSpec, list[np.ndarray]]:
        best: tuple[float, ModelSpec, list[np.ndarray]] | None = None
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
        *[best_of([_spec(e.kind, **{"weighting": w, **e.config}) for e in family])
          for family in cfg.extra],
    ]
    best = -1.0
    specs: list[ModelSpec] = []
    weights = np.zeros(0)
    for anchor in anchors:
        normed = [run(anchor)[1], *[n for _, n in others]]
        ndcg, ws = _search_weights(val, normed, cfg)
        trials.append({"kind": "blend", "anchor": anchor.config, "weights": ws.tolist(),
                       "ndcg": ndcg})
        if ndcg > best:
            best, weights, specs = ndcg, ws, [anchor, *[s for s, _ in others]]
    components = tuple(
        ModelSpec(kind=s.kind, weight=round(float(wi), 4), config=s.config)
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
    train, _ = stratified_item(data.events, ratio=0.75, seed=42)  # the benchmark's split
    result = tune_hybrid(data.with_events(train))
    json.dump({"config": result.config.model_dump(mode="json"),
               "validation_ndcg": result.validation_ndcg, "seconds": result.seconds},
              sys.stdout, indent=2)


if __name__ == "__main__":  # pragma: no cover
    main()
