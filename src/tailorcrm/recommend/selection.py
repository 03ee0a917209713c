"""Per-tenant model choice: score the candidates on a validation carve, activate the winner.

As Gorse picks a model by offline score, training scores popularity, buy-again, the default
hybrid and its parts on the newest part of the tenant's own events (:mod:`.carve`) by
nDCG@10, each under both repeat policies (bought items excluded, or candidates), and keeps a
personalized winner only when it beats popularity clearly. The test split of any
benchmark is never read: everything here comes from the training data it is handed.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any, Literal, cast

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from tailorcrm.data.dataset import Dataset
from tailorcrm.errors import ConfigError, NotFoundError
from tailorcrm.recommend.base import ModelConfig, Recommender
from tailorcrm.recommend.buy_again import BuyAgain, RepeatBlend, blend_repeats
from tailorcrm.recommend.carve import CarveKind, carve, ndcg_rows
from tailorcrm.recommend.default import DEFAULT_HYBRID
from tailorcrm.recommend.fallback import FallbackChain
from tailorcrm.recommend.hybrid import Hybrid, HybridConfig
from tailorcrm.recommend.popularity import Popularity
from tailorcrm.recommend.ranking import Ranker, RankingConfig, top_k
from tailorcrm.recommend.registry import build, build_model
from tailorcrm.recommend.spec import ModelSpec

log = logging.getLogger(__name__)

SELECTION_KIND = "recommender"  # the tenant's override: config document kind and name
SELECTION_NAME = "selection"
REPEATS = "+repeats"  # suffix of a candidate served with bought items allowed
Repeats = Literal["auto", "allow", "exclude"]
#: Cheapest first: among personalized candidates within two standard errors of the best (the
#: paired per-customer nDCG difference, as the "one-SE rule" of cross-validation), the first in
#: this order wins: simpler to serve and explain, and as good as validation can tell.
SIMPLICITY = ("buy_again", "itemknn", "content", "ease", "ease_customer", "als",
              "buy_again+default", "default")


class SelectionConfig(ModelConfig):
    """How a tenant's recommender is chosen; stored per tenant as the ``recommender`` /
    ``selection`` config document, or passed in ``TrainConfig.selection``.

    ``force`` activates one candidate whatever the scores (they are still measured);
    ``repeats`` forces the repeat policy (``allow``: bought items stay candidates,
    ``exclude``: never shown again); ``enabled=False`` skips the choice (default hybrid).
    A personalized winner needs ``min_relative_gain`` over the best popularity and a paired
    per-customer z of at least ``min_z``, else popularity is served and labelled so; among
    personalized candidates within ``tie_se`` standard errors of the best, the simplest
    (:data:`SIMPLICITY`) is chosen.
    """

    enabled: bool = True
    force: str | None = None
    repeats: Repeats = "auto"
    carve: CarveKind = "auto"
    holdout_share: float = Field(0.2, gt=0, lt=1)
    global_holdout_share: float = Field(0.1, gt=0, lt=1)
    k: int = Field(10, gt=0)
    min_relative_gain: float = Field(0.02, ge=0)
    min_z: float = Field(2.0, ge=0)
    min_validation_customers: int = Field(20, ge=1)
    max_validation_customers: int = Field(2000, ge=1)
    max_ease_size: int = Field(5000, gt=0)
    repeat_weights: tuple[float, ...] = (0.5, 2.0, 100.0)
    max_segment_fields: int = Field(3, ge=0)
    tie_se: float = Field(2.0, ge=0)
    random_state: int = 42


class Selection(BaseModel):
    """The choice and its evidence (stored in the model version's stats)."""

    model_config = ConfigDict(extra="forbid")

    chosen: str
    personalized: bool
    repeats: Literal["allow", "exclude"]
    scores: dict[str, float] = Field(default_factory=dict)
    popularity: str = "popularity"
    popularity_ndcg: float | None = None
    chosen_ndcg: float | None = None
    best_personalized: str | None = None
    margin_over_popularity: float | None = None
    z: float | None = None
    params: dict[str, dict[str, Any]] = Field(default_factory=dict)
    carve: dict[str, Any] = Field(default_factory=dict)
    skipped: dict[str, str] = Field(default_factory=dict)
    forced: bool = False
    note: str = ""
    seconds: float = 0.0


def load_selection_config(configs: Any, tid: int) -> SelectionConfig:
    """The tenant's stored ``recommender``/``selection`` document, else the defaults."""
    try:
        return SelectionConfig.model_validate(configs.get(tid, SELECTION_KIND, SELECTION_NAME))
    except NotFoundError:
        return SelectionConfig()


def segment_fields(data: Dataset, limit: int) -> list[str]:
    """Customer fields worth a per-segment popularity: 2-50 values, set for half or more."""
    out: list[str] = []
    for name in data.customers.columns:
        if name.startswith("consent_") or len(out) >= limit:
            continue
        col = data.customers[name]
        if col.map(lambda v: isinstance(v, list | tuple | dict)).any():
            continue
        if col.notna().mean() >= 0.5 and 2 <= col.nunique() <= 50:
            out.append(str(name))
    return out


def capped_hybrid(cfg: SelectionConfig) -> HybridConfig:
    """The default hybrid with every EASE bounded by ``max_ease_size`` (memory)."""
    parts = tuple(c.model_copy(update={"config": {**c.config, "max_items": min(
        int(c.config.get("max_items", cfg.max_ease_size)), cfg.max_ease_size)}})
        if c.kind == "ease" else c for c in DEFAULT_HYBRID.components)
    return DEFAULT_HYBRID.model_copy(update={"components": parts})


def _part_names(specs: tuple[ModelSpec, ...]) -> list[str]:
    names: list[str] = []
    for spec in specs:
        name = "ease_customer" if spec.config.get("side") == "customer" else spec.kind
        names.append(name if name not in names else f"{name}_{len(names)}")
    return names


class _Scoreboard:
    """Per-customer nDCG of every candidate list, gathered batch by batch."""

    def __init__(self) -> None:
        self.rows: dict[str, list[np.ndarray]] = {}

    def add(self, name: str, scores: np.ndarray, mask: np.ndarray, relevant: Any, k: int
            ) -> None:
        best = top_k(np.where(mask, np.nan, scores), k)
        self.rows.setdefault(name, []).append(ndcg_rows(best, relevant, k))

    def values(self, name: str) -> np.ndarray:
        return np.concatenate(self.rows[name])

    def means(self) -> dict[str, float]:
        return {n: round(float(self.values(n).mean()), 6) for n in self.rows}


def _paired_z(a: np.ndarray, b: np.ndarray) -> float:
    diff = a - b
    se = diff.std(ddof=1) / np.sqrt(len(diff)) if len(diff) > 1 else 0.0
    if se == 0:
        return float("inf") if diff.mean() > 0 else 0.0
    return float(diff.mean() / se)


def select(data: Dataset, cfg: SelectionConfig | None = None,
           ranking: RankingConfig | None = None) -> tuple[Selection, Recommender]:
    """Choose the tenant's recommender on a carve of ``data``; returns the choice and the
    chosen model, new and unfitted (fit it on all of ``data``)."""
    cfg = cfg or SelectionConfig()
    ranking = ranking or RankingConfig()
    started = time.perf_counter()
    hybrid_cfg = capped_hybrid(cfg)
    if not cfg.enabled:
        return _finish(Selection(chosen="default", personalized=True,
                                 repeats=_repeats_of("default", cfg.repeats),
                                 note="selection switched off: the default hybrid"),
                       hybrid_cfg, started)
    cut = carve(data, kind=cfg.carve, share=cfg.holdout_share,
                global_share=cfg.global_holdout_share,
                max_customers=cfg.max_validation_customers, random_state=cfg.random_state)
    if not len(cut.customers) or (len(cut.customers) < cfg.min_validation_customers
                                  and cfg.force is None):
        # No evidence that a personalized model beats popularity: serve popularity, and say
        # why (a small CRM with a handful of events must not be told it is personalized).
        chosen = cfg.force or "popularity"
        note = (f"only {len(cut.customers)} validation customers (< "
                f"{cfg.min_validation_customers}): "
                + ("kept the forced model" if cfg.force else
                   "too little data to show that a personalized model beats popularity, "
                   "so popularity is served"))
        return _finish(Selection(chosen=chosen, personalized=not _is_popularity(chosen),
                                 repeats=_repeats_of(chosen, cfg.repeats),
                                 carve=cut.description, forced=cfg.force is not None,
                                 note=note), hybrid_cfg, started)
    board, params, skipped, fields = _score(cut, cfg, ranking, hybrid_cfg)
    result = _decide(board, cfg, params, skipped, fields)
    result.carve = cut.description
    return _finish(result, hybrid_cfg, started)


def _score(cut: Any, cfg: SelectionConfig, ranking: RankingConfig, hybrid_cfg: HybridConfig
           ) -> tuple[_Scoreboard, dict[str, dict[str, Any]], dict[str, str], list[str]]:
    fit = cut.fit
    policies = {"auto": (False, True), "allow": (True,), "exclude": (False,)}[cfg.repeats]
    pops: dict[str, Recommender] = {"popularity": Popularity().fit(fit)}
    fields = segment_fields(fit, cfg.max_segment_fields)
    for name in fields:
        pops[f"popularity:{name}"] = Popularity(segment_field=name).fit(fit)
    hybrid = cast(Hybrid, build_model("hybrid", hybrid_cfg.model_dump(mode="json")).fit(fit))
    names = _part_names(hybrid.config.components)
    skipped = {n: "left out of the hybrid (too large or too little data)"
               for n in _part_names(hybrid_cfg.components) if n not in names}
    again = BuyAgain().fit(fit) if True in policies else None
    ranker = Ranker(pops["popularity"], fit, ranking, fallback=pops["popularity"])
    board, blends = _Scoreboard(), _Scoreboard()
    batch = int(max(16, min(512, 4_000_000 // max(fit.n_items, 1))))
    content_scored = False
    for start in range(0, len(cut.customers), batch):
        idx = cut.customers[start:start + batch]
        relevant = cut.relevant[idx]
        rows = {n: m.score_many(idx) for n, m in pops.items()}
        parts = hybrid.component_scores(idx)
        personal = dict(zip(names, parts, strict=True))
        personal["default"] = hybrid._blend(parts, hybrid._seen(idx))
        content_scored |= "content" in personal and bool(np.isfinite(personal["content"]).any())
        for row in personal.values():  # served in a chain: popularity answers for the rest
            empty = np.all(np.isnan(row), axis=1)
            row[empty] = rows["popularity"][empty]
        masks = {allow: ranker.excluded_many(idx, exclude_bought=not allow)
                 for allow in policies}
        for name, row in {**rows, **personal}.items():
            for allow in policies:
                board.add(name + (REPEATS if allow else ""), row, masks[allow], relevant, cfg.k)
        if again is not None:
            repeat = again.score_many(idx)
            for fill in ("popularity", "default"):
                base = rows[fill] if fill in rows else personal[fill]
                for w in cfg.repeat_weights:
                    blends.add(f"{fill}@{w}", blend_repeats(base, repeat, w), masks[True],
                               relevant, cfg.k)
    if "content" in names and not content_scored:
        for key in ("content", "content" + REPEATS):
            board.rows.pop(key, None)
        skipped["content"] = "items have no text, categories or feature fields"
    params: dict[str, dict[str, Any]] = {}
    means = blends.means()
    for fill, name in (("popularity", "buy_again"), ("default", "buy_again+default")):
        found = [(means[f"{fill}@{w}"], -i, w) for i, w in enumerate(cfg.repeat_weights)
                 if f"{fill}@{w}" in means]
        if found:
            *_, w = max(found)
            board.rows[name] = blends.rows[f"{fill}@{w}"]
            params[name] = {"weight": w}
    return board, params, skipped, fields


def _decide(board: _Scoreboard, cfg: SelectionConfig, params: dict[str, dict[str, Any]],
            skipped: dict[str, str], fields: list[str]) -> Selection:
    scores = board.means()
    is_pop = {n: _is_popularity(n) for n in scores}
    pop = max((n for n in scores if is_pop[n]), key=lambda n: (scores[n], n == "popularity"))
    personal = [n for n in scores if not is_pop[n]]
    best = None
    if personal:
        top = max(personal, key=lambda n: scores[n])
        close = [n for n in personal if n == top or _paired_z(
            board.values(top), board.values(n)) <= cfg.tie_se]
        best = min(close, key=lambda n: (_simplicity(n), -scores[n], n))
    margin = z = None
    wins = False
    if best is not None:
        base = scores[pop]
        margin = (scores[best] - base) / base if base > 0 else (float("inf") if scores[best]
                                                                 > 0 else 0.0)
        z = _paired_z(board.values(best), board.values(pop))
        wins = margin >= cfg.min_relative_gain and z >= cfg.min_z
    chosen, note = (best, "") if wins and best is not None else (
        pop, "personalized models did not beat popularity on validation")
    forced = cfg.force is not None
    if cfg.force is not None:
        if cfg.force not in scores and cfg.force + REPEATS in scores:
            cfg = cfg.model_copy(update={"force": cfg.force + REPEATS})
        if cfg.force not in scores:
            raise ConfigError(f"cannot force {cfg.force!r}: not a candidate here",
                              known=sorted(scores))
        chosen, note = cfg.force, "forced by the tenant's config"
    return Selection(
        chosen=chosen, personalized=not is_pop[chosen], repeats=_repeats_of(chosen, "auto"),
        scores=scores, popularity=pop, popularity_ndcg=scores[pop],
        chosen_ndcg=scores[chosen], best_personalized=best,
        margin_over_popularity=_finite(margin, 4), z=_finite(z, 3), params=params,
        skipped=skipped, forced=forced, note=note)


def _finish(result: Selection, hybrid_cfg: HybridConfig, started: float
            ) -> tuple[Selection, Recommender]:
    result.seconds = round(time.perf_counter() - started, 3)
    log.info("model choice: %s (nDCG@10 %s, popularity %s, margin %s) in %.1fs",
             result.chosen, result.chosen_ndcg, result.popularity_ndcg,
             result.margin_over_popularity, result.seconds)
    return result, build_choice(result, hybrid_cfg)


def _finite(value: float | None, digits: int) -> float | None:
    """A rounded value for the stats; None for none or infinity (JSON stores neither)."""
    return None if value is None or not np.isfinite(value) else round(float(value), digits)


def _simplicity(name: str) -> int:
    base = name.split(REPEATS)[0]
    return SIMPLICITY.index(base) if base in SIMPLICITY else len(SIMPLICITY)


def _is_popularity(name: str) -> bool:
    return name.startswith("popularity")


def _repeats_of(name: str, policy: Repeats) -> Literal["allow", "exclude"]:
    """A candidate's repeat policy: buy-again and ``+repeats`` allow them."""
    if policy != "auto":
        return policy
    return "allow" if name.endswith(REPEATS) or name.startswith("buy_again") else "exclude"


def _popularity(name: str) -> Popularity:
    field = name.split(REPEATS)[0].partition(":")[2]
    return Popularity(segment_field=field or None)


def build_choice(result: Selection, hybrid_cfg: HybridConfig | None = None) -> Recommender:
    """The new, unfitted model a choice stands for (personalized ones end in popularity)."""
    hybrid_cfg = hybrid_cfg or DEFAULT_HYBRID
    name = result.chosen.split(REPEATS)[0]
    if name.startswith("popularity"):
        return _popularity(name)
    fallback = _popularity(result.popularity)
    hybrid = build_model("hybrid", hybrid_cfg.model_dump(mode="json"))
    if name.startswith("buy_again"):
        fill = hybrid if name == "buy_again+default" else _popularity(result.popularity)
        weight = float(result.params.get(result.chosen, {}).get("weight", 1.0))
        return FallbackChain.of([RepeatBlend.of(BuyAgain(), fill, weight), fallback])
    if name == "default":
        return FallbackChain.of([hybrid, fallback])
    specs = dict(zip(_part_names(hybrid_cfg.components), hybrid_cfg.components, strict=True))
    if name not in specs:
        raise ConfigError(f"unknown candidate {result.chosen!r}",
                          known=["popularity", "buy_again", "buy_again+default", "default",
                                 *specs])
    spec = specs[name]
    return FallbackChain.of([build(spec), fallback])


def served_ranking(result: Selection, ranking: RankingConfig) -> RankingConfig:
    """The ranking config a choice is served with: its repeat policy, its label."""
    update: Mapping[str, Any] = {"personalized": result.personalized,
                                 "exclude_bought": ranking.exclude_bought
                                 and result.repeats == "exclude"}
    return ranking.model_copy(update=dict(update))
