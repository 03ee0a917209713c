"""Recommendation models, their composition (hybrid, fallback), ranking and reasons."""

from tailorcrm.recommend.default import default_recommender

__all__ = ["default_recommender"]
