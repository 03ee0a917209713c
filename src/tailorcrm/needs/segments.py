"""Behavioural segments: k-means on standardized customer features, k by silhouette, in words.

Profiles and descriptions live in :mod:`tailorcrm.needs.segment_profiles`.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, model_validator
from sklearn.cluster import KMeans
from sklearn.metrics import silhouette_score
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from tailorcrm.data.dataset import Dataset
from tailorcrm.errors import InsufficientDataError
from tailorcrm.needs.behaviour import behaviour_features, is_heavy_tailed
from tailorcrm.needs.definitions import as_utc
from tailorcrm.needs.features import MISSING as FEATURE_MISSING
from tailorcrm.needs.features import FeatureConfig, feature_frame, feature_specs
from tailorcrm.needs.rfm import NO_PURCHASES, default_reference
from tailorcrm.needs.segment_profiles import (
    ONE_HOT_SEP,
    FeatureDifference,
    KScore,
    SegmentationProfile,
    SegmentProfile,
    describe_difference,
    describe_segment,
)
from tailorcrm.schema.fields import FieldType

logger = logging.getLogger(__name__)

SEGMENTATION = "behaviour"
"""Name of the stored segmentation (``store.segments``) behavioural segments go to."""
DEFAULT_BEHAVIOUR = ("recency_purchase_days", "frequency", "monetary", "avg_order_value",
                     "return_rate", "service_tickets", "feedback_mean")


class SegmentationConfig(BaseModel):
    """How customers are clustered and how segments are described."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    k_min: int = Field(2, ge=2)
    k_max: int = Field(8, ge=2)
    silhouette_sample: int = Field(3000, ge=100, description="Rows used to choose k.")
    n_init: int = Field(10, ge=1)
    random_state: int = 0
    n_threads: int = Field(1, ge=1, description="OpenMP threads of k-means; more than one "
                           "slows it down many times on a busy machine (threads spin-wait).")
    behaviour_columns: tuple[str, ...] | None = Field(
        DEFAULT_BEHAVIOUR, description="Behavioural features used (None: all, with shares).")
    buyers_only: bool = Field(
        True, description="Cluster customers with a purchase before the reference; the others "
        "form the segment 'no_purchases' (else they become a cluster of their own).")
    category_shares: bool = True
    custom_fields: bool = True
    cluster_on_enums: bool = Field(
        False, description="Cluster on one-hot enum columns too; by default they only describe "
        "segments (0/1 columns split customers into many small, spurious clusters).")
    log_heavy_tailed: bool = True
    describe_top: int = Field(3, ge=1)

    @model_validator(mode="after")
    def _range(self) -> SegmentationConfig:
        if self.k_max < self.k_min:
            raise ValueError("k_max must be at least k_min")
        return self


@dataclass(frozen=True)
class Segmentation:
    """Segments of customers (``assignment``: segment per ``customer_id``) and their profile.

    The fitted scaler and k-means model are kept so that customers can be placed in the same
    segments at another point in time (:meth:`assign`), e.g. at a need's cut-off.
    """

    assignment: pd.Series
    profile: SegmentationProfile
    config: SegmentationConfig
    scaler_: StandardScaler
    kmeans_: KMeans
    names_: dict[int, str]

    def assign_features(self, raw: pd.DataFrame) -> pd.Series:
        """Nearest segment of each row of raw features (columns as :func:`customer_features`)."""
        space = _model_space(raw.fillna(0.0), self.config, keep_constant=True)
        space = space.reindex(columns=self.profile.features, fill_value=0.0)
        x = self.scaler_.transform(space.to_numpy()) * block_weights(space.columns)
        with threadpool_limits(self.config.n_threads):
            labels = self.kmeans_.predict(x)
        out = pd.Series([self.names_[int(lab)] for lab in labels],
                        index=raw.index.astype(str), name=self.profile.name)
        if self.config.buyers_only and "frequency" in raw.columns:
            out[(raw["frequency"] <= 0).to_numpy()] = NO_PURCHASES
        return out

    def assign(self, data: Dataset, reference: dt.datetime | pd.Timestamp | None) -> pd.Series:
        """Every customer's segment from their features at ``reference``."""
        return self.assign_features(customer_features(data, reference, self.config))


# -- features -----------------------------------------------------------------------------
def custom_feature_frame(data: Dataset, customers: pd.Index,
                         reference: dt.datetime | pd.Timestamp | None = None, *,
                         top_values: int = 10) -> pd.DataFrame:
    """Customer fields flagged ``feature``, in raw, describable units.

    Fields are typed as the need models type them (:func:`tailorcrm.needs.features.
    feature_frame`): numbers and booleans as they are (missing: median, or 0 for booleans),
    dates as their age in days at ``reference``; enums, strings and lists one-hot as
    ``field=value`` (declared enum values, else the ``top_values`` most frequent values).
    Free text is left out: its terms do not describe a segment.
    """
    fcfg = FeatureConfig(behaviour=None)
    specs = [s for s in feature_specs(data, fcfg) if s.type is not FieldType.TEXT]
    typed = feature_frame(data, customers, reference, specs, fcfg)
    out: dict[str, pd.Series] = {}
    for spec in specs:
        col = typed[spec.name]
        if spec.type is FieldType.BOOLEAN:
            out[spec.name] = col.fillna(0.0)
        elif spec.type in (FieldType.NUMBER, FieldType.INTEGER, FieldType.DATE,
                           FieldType.DATETIME):
            out[spec.name] = col.fillna(col.median() if col.notna().any() else 0.0)
        elif spec.type is FieldType.LIST:
            counts = pd.Series([v for values in col for v in values], dtype=object)
            for value in counts.value_counts().index[:top_values]:
                out[f"{spec.name}{ONE_HOT_SEP}{value}"] = col.map(
                    lambda values, v=value: float(v in values))
        else:
            present = col[col != FEATURE_MISSING]
            levels = list(spec.enum_values) or list(present.value_counts().index[:top_values])
            for value in levels:
                out[f"{spec.name}{ONE_HOT_SEP}{value}"] = (col == value).astype(float)
    return pd.DataFrame(out, index=customers)


def customer_features(
    data: Dataset,
    reference: dt.datetime | pd.Timestamp | None = None,
    config: SegmentationConfig | None = None,
) -> pd.DataFrame:
    """Raw (unscaled) features of every customer at ``reference`` for clustering.

    Behavioural features come from :func:`tailorcrm.needs.behaviour.behaviour_features`
    (point-in-time, events before ``reference``), with category shares, plus custom fields
    flagged as features (:func:`custom_feature_frame`). Rows are the customer table's
    customers (the event ids when the table is empty).
    """
    cfg = config or SegmentationConfig()
    ref = default_reference(data) if reference is None else as_utc(reference)
    known = data.customers.index.astype(str)
    source = known if len(known) else data.events["customer_id"].astype(str)
    ids = pd.Index(sorted(set(source)), name="customer_id")
    beh = behaviour_features(data, ids, ref)
    cols = [c for c in beh.columns if cfg.behaviour_columns is None
            or c in cfg.behaviour_columns or (cfg.category_shares and c.startswith("share_"))]
    parts = [beh[cols]]
    if cfg.custom_fields:
        parts.append(custom_feature_frame(data, ids, ref))
    return pd.concat(parts, axis=1)


def _model_space(raw: pd.DataFrame, cfg: SegmentationConfig, *,
                 keep_constant: bool = False) -> pd.DataFrame:
    """Log1p of heavy-tailed counts and amounts, constant columns dropped."""
    out = raw.astype(float).copy()
    if not cfg.cluster_on_enums:
        out = out[[c for c in out.columns if ONE_HOT_SEP not in c]]
    if cfg.log_heavy_tailed:
        for col in out.columns:
            if is_heavy_tailed(col) and (out[col] >= 0).all():
                out[col] = np.log1p(out[col])
    if keep_constant:
        return out
    keep = [c for c in out.columns if out[c].std(ddof=0) > 1e-12]
    return out[keep]


def block_weights(columns: pd.Index) -> np.ndarray:
    """Weight ``1/sqrt(m)`` for each of the ``m`` columns of a one-hot field or of the
    category shares, 1 for every other column.

    After standardizing, a block of ``m`` columns then carries the variance of one feature, so
    an enum with many values (or many categories) does not outvote the behaviour.
    """
    blocks = pd.Series([c.split(ONE_HOT_SEP, 1)[0] if ONE_HOT_SEP in c
                        else "share_" if c.startswith("share_") else c for c in columns])
    sizes = blocks.map(blocks.value_counts())
    return np.asarray(1.0 / np.sqrt(sizes.to_numpy(dtype=np.float64)))


# -- clustering ---------------------------------------------------------------------------
def choose_k(x: np.ndarray, cfg: SegmentationConfig) -> tuple[int, list[KScore]]:
    """The k in ``k_min..k_max`` with the best silhouette on a random sample of rows."""
    rng = np.random.default_rng(cfg.random_state)
    sample = x if len(x) <= cfg.silhouette_sample else x[
        np.sort(rng.choice(len(x), cfg.silhouette_sample, replace=False))]
    scores: list[KScore] = []
    distinct = len(np.unique(sample, axis=0))  # k-means cannot make more clusters than points
    for k in range(cfg.k_min, min(cfg.k_max, len(sample) - 1, distinct) + 1):
        with threadpool_limits(cfg.n_threads):
            labels = KMeans(n_clusters=k, n_init=cfg.n_init,
                            random_state=cfg.random_state).fit_predict(sample)
        if len(set(labels)) < 2:
            continue
        scores.append(KScore(k=k, silhouette=float(silhouette_score(sample, labels))))
    if not scores:
        raise InsufficientDataError("customers do not split into segments (too few or identical)")
    best = max(scores, key=lambda s: (s.silhouette, -s.k))
    return best.k, scores


def behavioural_segments(
    data: Dataset,
    *,
    features: pd.DataFrame | None = None,
    reference: dt.datetime | pd.Timestamp | None = None,
    config: SegmentationConfig | None = None,
    name: str = SEGMENTATION,
) -> Segmentation:
    """Cluster customers with k-means on standardized features and describe each segment.

    Parameters
    ----------
    data:
        The tenant's data set.
    features:
        Raw numeric features per customer (index ``customer_id``); default
        :func:`customer_features` at ``reference``. One-hot columns are named ``field=value``.
    reference:
        Point in time of the behavioural features; default the day after the last event.
    config:
        k range, sampling, seed and feature choice.
    name:
        Name of the segmentation (``store.segments`` key).

    Returns
    -------
    Segmentation
        Segments ``segment_1`` (the largest) .. ``segment_k`` per customer, and the profile.
    """
    cfg = config or SegmentationConfig()
    ref = default_reference(data) if reference is None else as_utc(reference)
    raw = customer_features(data, ref, cfg) if features is None else features.astype(float)
    raw = raw.fillna(0.0)
    idle: pd.Index = pd.Index([], dtype=object)
    if cfg.buyers_only and features is None:
        idle = raw.index[raw["frequency"] <= 0]
        raw = raw[raw["frequency"] > 0]
    space = _model_space(raw, cfg)
    if len(space) < max(10, cfg.k_min + 1) or space.shape[1] == 0:
        raise InsufficientDataError(
            f"{len(space)} customers with {space.shape[1]} varying features cannot be segmented",
            customers=len(space), features=space.shape[1])
    scaler = StandardScaler().fit(space.to_numpy())
    x = scaler.transform(space.to_numpy()) * block_weights(space.columns)
    k, scores = choose_k(x, cfg)
    kmeans = KMeans(n_clusters=k, n_init=cfg.n_init, random_state=cfg.random_state)
    with threadpool_limits(cfg.n_threads):
        labels = kmeans.fit_predict(x)
    # Name segments by size (largest first) so names do not depend on k-means' label order.
    sizes = pd.Series(labels).value_counts()
    order = sorted(sizes.index, key=lambda lab: (-sizes[lab], int(lab)))
    rename = {lab: f"segment_{i + 1}" for i, lab in enumerate(order)}
    assignment = pd.Series([rename[lab] for lab in labels], index=raw.index.astype(str),
                           name=name)
    z = _standardized(raw, space)
    total = len(raw) + len(idle)
    segments = [describe_segment(seg, raw, z, assignment, cfg.describe_top, total=total)
                for seg in sorted(set(assignment), key=lambda s: int(s.split("_")[1]))]
    if len(idle):
        segments.append(SegmentProfile(
            segment=NO_PURCHASES, n=len(idle), share=len(idle) / total, differences=[],
            description="no purchase before the reference date (not clustered)"))
        assignment = pd.concat([assignment, pd.Series(NO_PURCHASES, index=idle.astype(str),
                                                      name=name)]).sort_index()
    profile = SegmentationProfile(name=name, reference=ref.isoformat(), k=k, silhouette=scores,
                                  features=list(space.columns), random_state=cfg.random_state,
                                  segments=segments)
    logger.info("segmentation %s: k=%d (silhouette %.3f) over %d customers", name, k,
                max(s.silhouette for s in scores), len(assignment))
    return Segmentation(assignment=assignment, profile=profile, config=cfg, scaler_=scaler,
                        kmeans_=kmeans, names_={int(lab): n for lab, n in rename.items()})


def _standardized(raw: pd.DataFrame, space: pd.DataFrame) -> pd.DataFrame:
    """Every varying column standardized: the clustering space, plus describe-only columns."""
    extra = raw[[c for c in raw.columns if c not in space.columns]].astype(float)
    full = pd.concat([space, extra[[c for c in extra.columns
                                    if extra[c].std(ddof=0) > 1e-12]]], axis=1)
    return (full - full.mean()) / full.std(ddof=0)


__all__ = (
    "ONE_HOT_SEP", "SEGMENTATION", "FeatureDifference", "KScore", "SegmentProfile",
    "Segmentation", "SegmentationConfig", "SegmentationProfile", "behavioural_segments",
    "block_weights", "choose_k", "custom_feature_frame", "customer_features",
    "describe_difference", "describe_segment",
)
