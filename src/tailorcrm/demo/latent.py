"""The planted latent space: one preference direction per category and each industry's taste."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tailorcrm.demo.config import DemoConfig
from tailorcrm.demo.vocabulary import INDUSTRIES

FAVOURITE_WEIGHT = 0.45  # probability mass an industry puts on its favourite category


@dataclass(frozen=True)
class LatentSpace:
    """Category directions and industry tastes that customers and items are drawn around.

    Attributes
    ----------
    categories:
        Category names, in index order.
    centroids:
        ``n_categories x n_latent_factors``, unit-norm direction of each category.
    industry_probs:
        ``n_industries x n_categories``, the chance an industry's customer prefers a category.
    favourite:
        Industry name -> its favourite category name.
    """

    categories: tuple[str, ...]
    centroids: np.ndarray
    industry_probs: np.ndarray
    favourite: dict[str, str]


def plant_space(config: DemoConfig, rng: np.random.Generator) -> LatentSpace:
    """Draw the category directions (orthogonal when the dimension allows) and industry tastes."""
    n_cat, k = config.n_categories, config.n_latent_factors
    raw = rng.standard_normal((max(n_cat, k), k))
    if k >= n_cat:
        q, _ = np.linalg.qr(raw[:k].T)  # k x k orthonormal columns
        centroids = q.T[:n_cat]
    else:
        centroids = raw[:n_cat]
    centroids = centroids / np.linalg.norm(centroids, axis=1, keepdims=True)

    categories = config.categories
    probs = np.empty((len(INDUSTRIES), n_cat))
    favourite: dict[str, str] = {}
    for row, (industry, fav) in enumerate(INDUSTRIES.items()):
        fav_idx = fav % n_cat
        rest = rng.dirichlet(np.full(n_cat, 2.0))
        rest[fav_idx] = 0.0
        probs[row] = (1.0 - FAVOURITE_WEIGHT) * rest / rest.sum()
        probs[row, fav_idx] = FAVOURITE_WEIGHT
        favourite[industry] = categories[fav_idx]
    return LatentSpace(categories=categories, centroids=centroids, industry_probs=probs,
                       favourite=favourite)
