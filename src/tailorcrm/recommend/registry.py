"""The model registry: build any recommender from a kind name and a config, or load one."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tailorcrm.errors import ConfigError
from tailorcrm.recommend.base import ARTIFACT_JSON, Composite, Recommender

if TYPE_CHECKING:
    from tailorcrm.recommend.spec import ModelSpec


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


def model_class(kind: str) -> type[Recommender]:
    """The model class registered as ``kind``; ConfigError if none is."""
    classes = model_classes()
    if kind not in classes:
        raise ConfigError(f"unknown model kind {kind!r}", known=sorted(classes))
    return classes[kind]


def build_model(kind: str, config: Mapping[str, Any] | None = None) -> Recommender:
    """A new, unfitted model of ``kind`` with its config validated from ``config``.

    A composite (hybrid, fallback chain) gets its parts built here first and handed in.
    """
    cls = model_class(kind)
    cfg = cls.config_class.model_validate(dict(config or {}))
    if issubclass(cls, Composite):
        return cls(cfg, parts=[build(spec) for spec in cls.part_specs(cfg)])
    return cls(cfg)


def build(spec: ModelSpec) -> Recommender:
    """A new, unfitted model from a :class:`ModelSpec` (its weight is the caller's)."""
    return build_model(spec.kind, spec.config)


def load_model(path: str | Path) -> Recommender:
    """Load any model saved with ``save`` (its kind is read from ``model.json``); a
    composite's parts are loaded from their sub-folders first and handed in."""
    meta = json.loads((Path(path) / ARTIFACT_JSON).read_text())
    classes = model_classes()
    kind = meta.get("kind")
    if kind not in classes:
        raise ConfigError(f"artifact at {path} holds unknown model kind {kind!r}")
    cls = classes[kind]
    if issubclass(cls, Composite):
        folders = cls.part_folders(cls.saved_config(path))
        return cls.load_with_parts(path, [load_model(Path(path) / f) for f in folders])
    return cls.load(path)
