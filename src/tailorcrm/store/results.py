"""The results store: what offline jobs precompute (segments, need scores, top-N lists).

Gorse's cache store: derived, replaceable data, kept apart from the source of truth. Every
write replaces one named result whole and leaves out customers erased since the job read its
data (``erased_after``). Results that a model makes carry its stamp: need scores the model
version, recommendation lists the model version and the config hash, so a reader can tell a
stale result from a current one (:class:`ResultStamp`). Segments are rule-made and unstamped.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from tailorcrm.store.need_scores import NeedScoreRepository
from tailorcrm.store.recommendations import RecommendationRepository
from tailorcrm.store.segments import SegmentRepository


class Stamped(Protocol):
    """A stored result that says which model version and config made it."""

    model_version: str
    config_hash: str


@dataclass(frozen=True)
class ResultStamp:
    """The model version and config hash a job stamps on what it writes."""

    model_version: str
    config_hash: str = ""

    def matches(self, result: Stamped) -> bool:
        """True when ``result`` was made by this model version and config."""
        return (result.model_version, result.config_hash) == (self.model_version,
                                                               self.config_hash)


class ResultsStore:
    """Segments, need scores and precomputed lists: the three result repositories.

    The :class:`~tailorcrm.store.Store` facade exposes it as ``store.results`` and keeps
    ``store.segments``, ``store.need_scores`` and ``store.recommendations`` as the same
    objects.
    """

    def __init__(self, segments: SegmentRepository, need_scores: NeedScoreRepository,
                 recommendations: RecommendationRepository) -> None:
        self.segments = segments
        self.need_scores = need_scores
        self.recommendations = recommendations

    def summary(self, tid: int) -> dict[str, dict[str, int]]:
        """How much the tenant has of each result: segment sizes by segmentation, customers
        scored by need, lists by strategy."""
        return {"segments": {name: sum(sizes.values())
                             for name, sizes in self.segments.list(tid).items()},
                "need_scores": self.need_scores.counts(tid),
                "recommendations": self.recommendations.strategies(tid)}
