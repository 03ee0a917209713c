"""The demo catalog: items with categories, text from category words, prices and latent vectors."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

from tailorcrm.demo.config import DemoConfig
from tailorcrm.demo.latent import LatentSpace
from tailorcrm.demo.vocabulary import (
    ADJECTIVES,
    BRANDS,
    CATEGORY_WORDS,
    GENERIC_WORDS,
    ITEM_TIER_PRICE,
    ITEM_TIERS,
    make_ids,
)

SECOND_CATEGORY_SHARE = 0.2
ITEM_COLUMNS = ("item_id", "title", "description", "categories", "price", "available",
                "brand", "tier", "eco_friendly", "launch_date")


@dataclass(frozen=True)
class ItemDraw:
    """The item frame and the hidden quantities events are drawn from.

    Attributes
    ----------
    frame:
        Columns ``ITEM_COLUMNS``, one row per item.
    factors:
        ``n_items x n_latent_factors`` planted item vectors.
    bias:
        Planted item popularity (added to every customer's affinity).
    launch_day:
        Days from ``start_date`` (00:00 UTC) to the item's launch; negative = launched before.
    is_new:
        Items launched at the very end, with no events at all (cold-start items).
    """

    frame: pd.DataFrame
    factors: np.ndarray
    bias: np.ndarray
    launch_day: np.ndarray
    is_new: np.ndarray


def _text(rng: np.random.Generator, brand: str, tier: str, cats: list[str]) -> tuple[str, str]:
    """A title and a description built from the item's category words."""
    words = [w for c in cats for w in CATEGORY_WORDS[c]]
    picked = list(rng.choice(words, size=5, replace=False))
    adjective = str(rng.choice(ADJECTIVES))
    generic = list(rng.choice(GENERIC_WORDS, size=2, replace=False))
    title = f"{brand.title()} {adjective} {picked[0]} {picked[1]}"
    description = (f"The {adjective} {picked[0]} for {generic[0]} {generic[1]}. "
                   f"Includes {picked[2]}, {picked[3]} and {picked[4]}. "
                   f"{tier.title()} tier by {brand.title()}.")
    return title, description


def make_items(config: DemoConfig, space: LatentSpace, rng: np.random.Generator) -> ItemDraw:
    """Draw the catalog around the category directions of ``space``."""
    n, n_cat, k = config.n_items, config.n_categories, config.n_latent_factors
    primary = rng.permutation(np.arange(n) % n_cat)  # balanced categories
    second = np.where(rng.random(n) < SECOND_CATEGORY_SHARE,
                      (primary + rng.integers(1, n_cat, size=n)) % n_cat, -1)

    centre = space.centroids[primary].copy()
    two = second >= 0
    centre[two] = 0.5 * (centre[two] + space.centroids[second[two]])
    centre /= np.linalg.norm(centre, axis=1, keepdims=True)
    factors = centre + rng.standard_normal((n, k)) * (config.item_noise / np.sqrt(k))
    bias = rng.standard_normal(n) * config.item_bias_sd

    tier_idx = rng.choice(len(ITEM_TIERS), size=n, p=[0.3, 0.45, 0.25])
    brand_idx = rng.integers(len(BRANDS), size=n)
    base_price = np.exp(rng.normal(4.2, 0.7, size=n_cat))  # per category
    price = np.round(base_price[primary] * np.asarray(ITEM_TIER_PRICE)[tier_idx]
                     * np.exp(rng.normal(0.0, 0.3, size=n)), 2)
    eco = rng.random(n) < 0.3

    span = (config.end_date - config.start_date).days + 1
    n_new = round(config.new_item_share * n)
    is_new = np.zeros(n, dtype=bool)
    is_new[rng.choice(n, size=n_new, replace=False)] = True
    launch_day = np.where(rng.random(n) < 0.85, -rng.uniform(30, 900, size=n),
                          rng.uniform(0, span - 45, size=n))
    launch_day[is_new] = rng.uniform(span - 20, span - 1, size=n_new)
    available = np.ones(n, dtype=bool)
    old = np.flatnonzero(~is_new)
    n_off = min(round(config.unavailable_share * n), len(old))
    available[rng.choice(old, size=n_off, replace=False)] = False

    titles, descriptions, categories = [], [], []
    for i in range(n):
        cats = [space.categories[primary[i]]]
        if second[i] >= 0:
            cats.append(space.categories[second[i]])
        title, description = _text(rng, BRANDS[brand_idx[i]], ITEM_TIERS[tier_idx[i]], cats)
        titles.append(title)
        descriptions.append(description)
        categories.append(cats)

    start = config.start_date
    frame = pd.DataFrame({
        "item_id": make_ids("item", n),
        "title": titles,
        "description": descriptions,
        "categories": categories,
        "price": price,
        "available": available,
        "brand": [BRANDS[b] for b in brand_idx],
        "tier": [ITEM_TIERS[t] for t in tier_idx],
        "eco_friendly": eco,
        "launch_date": [(start + dt.timedelta(days=int(np.floor(d)))).isoformat()
                        for d in launch_day],
    })
    return ItemDraw(frame=frame, factors=factors, bias=bias, launch_day=launch_day,
                    is_new=is_new)
