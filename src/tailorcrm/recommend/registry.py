"""The model registry: build any recommender from a kind name and a config, or load one."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tailorcrm.errors import ConfigError
from tailorcrm.recommend.base import ARTIFACT_JSON, Recommender


def model_classes() -> dict[str, type[Recommender]]:
    """Every model kind by name (imported lazily to keep import time low)."""
    from tailorcrm.recommend.als import ALS
    from tailorcrm.recommend.biased_mf import BiasedMF
    from tailorcrm.recommend.buy_again import BuyAgain, RepeatBlend
    from tailorcrm.recommend.content import ContentBased
    from tailorcrm.recommend.ease import EASE
    from tailorcrm.recommend.fallback import FallbackChain
    from tailorcrm.recommend.hybrid import Hybrid
    from tailorcrm.recommend.itemknn import ItemKNN
    from tailorcrm.recommend.popularity import Popularity
    from tailorcrm.recommend.userknn import UserKNN

    classes: list[type[Recommender]] = [ALS, BiasedMF, BuyAgain, ContentBased, EASE,
                                        FallbackChain, Hybrid, ItemKNN, Popularity,
                                        RepeatBlend, UserKNN]
    return {cls.name: cls for cls in classes}


def build_model(kind: str, config: dict[str, Any] | None = None) -> Recommender:
    """A new, unfitted model of ``kind`` with its config validated from ``config``."""
    classes = model_classes()
    if kind not in classes:
        raise ConfigError(f"unknown model kind {kind!r}", known=sorted(classes))
    cls = classes[kind]
    return cls(cls.config_class.model_validate(config or {}))


def load_model(path: str | Path) -> Recommender:
    """Load any model saved with ``save`` (its kind is read from ``model.json``)."""
    meta = json.loads((Path(path) / ARTIFACT_JSON).read_text())
    classes = model_classes()
    kind = meta.get("kind")
    if kind not in classes:
        raise ConfigError(f"artifact at {path} holds unknown model kind {kind!r}")
    return classes[kind].load(path)
