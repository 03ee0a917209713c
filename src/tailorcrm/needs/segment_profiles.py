"""Segment profiles: what sets each segment apart, in numbers and in words."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict

ONE_HOT_SEP = "="
"""One-hot columns are named ``field=value``."""


class FeatureDifference(BaseModel):
    """How one feature differs in a segment from the whole population."""

    model_config = ConfigDict(extra="forbid")

    feature: str
    segment_mean: float
    population_mean: float
    standardized_difference: float
    text: str


class SegmentProfile(BaseModel):
    """One segment: its size and what sets it apart."""

    model_config = ConfigDict(extra="forbid")

    segment: str
    n: int
    share: float
    description: str
    differences: list[FeatureDifference]


class KScore(BaseModel):
    """Silhouette of one candidate k."""

    model_config = ConfigDict(extra="forbid")

    k: int
    silhouette: float


class SegmentationProfile(BaseModel):
    """A stored segmentation's profile: method, chosen k, features and each segment."""

    model_config = ConfigDict(extra="forbid")

    name: str
    method: str = "kmeans"
    reference: str
    k: int
    silhouette: list[KScore]
    features: list[str]
    random_state: int
    segments: list[SegmentProfile]


FEATURE_WORDS: dict[str, str] = {
    "recency_purchase_days": "days since last purchase", "recency_any_days": "days since last "
    "activity", "frequency": "purchase days", "monetary": "spend", "avg_order_value":
    "average order value", "return_rate": "return rate", "service_tickets": "service tickets",
    "feedback_mean": "feedback score", "tenure_days": "days as a customer",
    "events_total": "events", "purchases_total": "purchases", "returns": "returns",
}


def _label(feature: str) -> str:
    if feature in FEATURE_WORDS:
        return FEATURE_WORDS[feature]
    if feature.startswith("share_"):
        return f"share of {feature.removeprefix('share_').replace('_', ' ')}"
    if ONE_HOT_SEP in feature:
        field, value = feature.split(ONE_HOT_SEP, 1)
        return f"{field} = {value}"
    return feature.replace("_", " ")


def describe_difference(feature: str, seg_mean: float, pop_mean: float, column: pd.Series) -> str:
    """A feature's difference in words: ``monetary 2.3× average``, ``plan = pro 64% vs 20%``."""
    values = column.to_numpy(dtype=np.float64)
    if ((values >= 0) & (values <= 1)).all() and (feature.startswith("share_")
                                                   or ONE_HOT_SEP in feature
                                                   or set(np.unique(values)) <= {0.0, 1.0}):
        return f"{_label(feature)} {seg_mean:.0%} vs {pop_mean:.0%}"
    if (values >= 0).all() and pop_mean > 0:
        ratio = seg_mean / pop_mean
        return f"{_label(feature)} {ratio:.1f}× average" if ratio >= 0.95 else (
            f"{_label(feature)} {ratio:.2g}× average")
    return f"{_label(feature)} {seg_mean:.3g} vs {pop_mean:.3g} average"


def describe_segment(segment: str, raw: pd.DataFrame, z: pd.DataFrame, assignment: pd.Series,
                     top: int = 3, *, total: int | None = None) -> SegmentProfile:
    """What sets ``segment`` apart: features with the largest standardized mean difference.

    Differences are ranked in the clustering space (standardized, log of counts), the space
    k-means saw; they are worded in the raw units.
    """
    mask = (assignment == segment).to_numpy()
    diffs = z[mask].mean(axis=0)  # the population mean of a standardized column is 0
    ranked: Sequence[str] = list(diffs.abs().sort_values(ascending=False, kind="stable")
                                 .index[:top])
    out: list[FeatureDifference] = []
    for feat in ranked:
        seg_mean, pop_mean = float(raw.loc[mask, feat].mean()), float(raw[feat].mean())
        out.append(FeatureDifference(
            feature=feat, segment_mean=seg_mean, population_mean=pop_mean,
            standardized_difference=float(diffs[feat]),
            text=describe_difference(feat, seg_mean, pop_mean, raw[feat])))
    share = float(mask.sum()) / (total or len(mask))
    return SegmentProfile(segment=segment, n=int(mask.sum()), share=share,
                          description="; ".join(d.text for d in out), differences=out)
