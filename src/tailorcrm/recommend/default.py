"""The default recommender: the tuned hybrid, content for cold items, popularity last."""

from __future__ import annotations

from typing import cast

from tailorcrm.recommend.fallback import FallbackChain
from tailorcrm.recommend.hybrid import HybridConfig
from tailorcrm.recommend.registry import build_model
from tailorcrm.recommend.spec import ModelSpec

#: The blend chosen by :func:`tailorcrm.evaluation.tuning.tune_hybrid` on a validation split
#: carved from MovieLens 100K's stratified-item *training* part (never its test part):
#: ``.venv/bin/python -m tailorcrm.evaluation.tuning`` reproduces it (mean nDCG@10 over two
#: validation carves, seeds 42 and 43: 0.2805). Item-side DLAE and customer-side DLAE run on
#: catalog weights (a rating weighs its value), ALS and BM25 item-kNN on binary ones.
#: Largest catalog (item side) or customer base (customer side) the default's EASE parts
#: fit; above it they are left out of the blend, which then rests on ALS and BM25 item-kNN
#: (sparse, linear in the events). EASE costs ``n³`` flops and ``4n²`` bytes: 5,000 is about
#: 3 CPU s and 100 MB per part on the project's machine kind. What the swap costs in accuracy
#: is measured on validation carves (``benchmarks/bench_offline_speed.py``).
EASE_MAX_SIZE = 5_000

TUNED_COMPONENTS: tuple[ModelSpec, ...] = (
    ModelSpec(kind="ease", weight=1.0, config={
        "weighting": "catalog", "lam": 800.0, "dropout": 0.7, "zero_diagonal": False,
        "max_items": EASE_MAX_SIZE}),
    ModelSpec(kind="als", weight=0.7, config={
        "weighting": "binary", "factors": 16, "alpha": 3.0, "random_state": 42}),
    ModelSpec(kind="itemknn", weight=0.3, config={
        "weighting": "binary", "similarity": "bm25", "k": 100}),
    ModelSpec(kind="ease", weight=0.5, config={
        "weighting": "catalog", "side": "customer", "lam": 3000.0, "dropout": 0.7,
        "zero_diagonal": False, "max_items": EASE_MAX_SIZE}),
)

#: Content joins the blend with a small weight: it scores nothing where items have no
#: text, categories or feature fields (so MovieLens results are unchanged) and lets items
#: nobody has interacted with yet reach customers through their features.
CONTENT_COMPONENT = ModelSpec(kind="content", weight=0.1)

DEFAULT_HYBRID = HybridConfig(components=(*TUNED_COMPONENTS, CONTENT_COMPONENT),
                              normalize="std")


#: The default chain: the hybrid, then popularity (as a spec the registry builds).
DEFAULT_CHAIN = (ModelSpec(kind="hybrid", config=DEFAULT_HYBRID.model_dump(mode="json")),
                 ModelSpec(kind="popularity"))


def with_ease_max_size(hybrid: HybridConfig, size: int) -> HybridConfig:
    """The hybrid with every EASE part bounded by ``size`` (items, or customers on the
    customer side) instead of its own ``max_items``."""
    parts = tuple(
        spec.model_copy(update={"config": {**spec.config, "max_items": size}})
        if spec.kind == "ease" else spec for spec in hybrid.components)
    return hybrid.model_copy(update={"components": parts})


def default_recommender(hybrid: HybridConfig | None = None, *,
                        ease_max_size: int | None = None) -> FallbackChain:
    """A new, unfitted default: the hybrid, then popularity.

    A customer with history gets the blend; one without history but with feature-flagged
    attributes gets the blend's content part (its attribute path); anyone else gets
    popularity. ``ease_max_size`` replaces the EASE parts' size bound
    (:data:`EASE_MAX_SIZE` by default).
    """
    if ease_max_size is not None:
        hybrid = with_ease_max_size(hybrid or DEFAULT_HYBRID, ease_max_size)
    specs = DEFAULT_CHAIN if hybrid is None else (
        ModelSpec(kind="hybrid", config=hybrid.model_dump(mode="json")), DEFAULT_CHAIN[1])
    chain = build_model("fallback", {"models": [s.model_dump(mode="json") for s in specs]})
    return cast(FallbackChain, chain)
