"""The needs analysis against the store: segments and profiles saved, needs and models read."""

from __future__ import annotations

import datetime as dt
import logging
from typing import TYPE_CHECKING

import pandas as pd

from tailorcrm.errors import ConfigError, InsufficientDataError, NotFoundError
from tailorcrm.needs import act_first
from tailorcrm.needs import rfm as rfm_mod
from tailorcrm.needs.act_first import NeedActions
from tailorcrm.needs.definitions import CONFIG_KIND as NEED_KIND
from tailorcrm.needs.definitions import AnyNeed, load_need
from tailorcrm.needs.report import ModelQuality, NeedsReport, ReportConfig, build_report
from tailorcrm.needs.segments import Segmentation, SegmentationProfile, behavioural_segments

if TYPE_CHECKING:
    from tailorcrm.data.dataset import Dataset
    from tailorcrm.store import Store

logger = logging.getLogger(__name__)

PROFILE_KIND = "segmentation"
"""``store.configs`` kind of segmentation profiles (name = the segmentation's name)."""


def _as_mapping(segments: pd.Series) -> dict[str, str]:
    return {str(c): str(s) for c, s in segments.items()}


def save_rfm(store: Store, tid: int, table: pd.DataFrame) -> int:
    """Store RFM segments (segmentation ``rfm``) and their summary; returns customers stored."""
    n = store.segments.replace(tid, rfm_mod.SEGMENTATION, _as_mapping(table["segment"]))
    store.configs.put(tid, PROFILE_KIND, rfm_mod.SEGMENTATION,
                      rfm_mod.rfm_summary(table).model_dump(mode="json"))
    logger.info("stored rfm segments of %d customers for tenant %d", n, tid)
    return n


def save_segmentation(store: Store, tid: int, segmentation: Segmentation) -> int:
    """Store a behavioural segmentation and its profile; returns customers stored."""
    name = segmentation.profile.name
    n = store.segments.replace(tid, name, _as_mapping(segmentation.assignment))
    store.configs.put(tid, PROFILE_KIND, name, segmentation.profile.model_dump(mode="json"))
    logger.info("stored %s segments (k=%d) of %d customers for tenant %d", name,
                segmentation.profile.k, n, tid)
    return n


def load_profile(store: Store, tid: int, name: str) -> SegmentationProfile:
    """The stored profile of a k-means segmentation; NotFoundError when there is none."""
    return SegmentationProfile.model_validate(store.configs.get(tid, PROFILE_KIND, name))


def load_rfm_summary(store: Store, tid: int) -> rfm_mod.RFMSummary:
    """The stored RFM summary; NotFoundError when RFM segments were never stored."""
    body = store.configs.get(tid, PROFILE_KIND, rfm_mod.SEGMENTATION)
    return rfm_mod.RFMSummary.model_validate(body)


def stored_segments(store: Store, tid: int, name: str) -> pd.Series:
    """Segment per ``customer_id`` of one stored segmentation (empty if none)."""
    sizes = store.segments.list(tid).get(name, {})
    pairs = [(cid, seg) for seg in sizes for cid in store.segments.members(tid, name, seg)]
    out = pd.Series(dict(pairs), name=name, dtype=object)
    out.index.name = "customer_id"
    return out.sort_index()


def item_catalog(store: Store, tid: int) -> tuple[set[str], set[str]]:
    """The tenant's item ids (item table and events) and item categories, for checking a
    need's item lists without loading the whole data set."""
    ids, cats = store.items.catalog(tid)
    return ids | store.events.item_ids(tid), cats


def tenant_needs(store: Store, tid: int) -> list[AnyNeed]:
    """Every need the tenant defined (newest versions); invalid ones are logged and skipped."""
    needs: list[AnyNeed] = []
    for info in store.configs.list(tid, NEED_KIND):
        try:
            needs.append(load_need(store, tid, info.name))
        except (ConfigError, NotFoundError) as exc:
            logger.warning("need %r skipped: %s", info.name, exc.message)
    return needs


def model_quality(store: Store, tid: int, need_names: set[str]) -> list[ModelQuality]:
    """The active model of each need (``need:<name>`` or ``<name>`` in ``store.models``;
    the newest version when none is active), with its figures against the baseline."""
    chosen: dict[str, ModelQuality] = {}
    for rec in store.models.list(tid):  # by name, newest first
        base = rec.name.removeprefix("need:")
        if base not in need_names and not rec.kind.startswith("need"):
            continue
        if rec.name in chosen and (chosen[rec.name].active or not rec.active):
            continue
        newest = chosen.get(rec.name)
        chosen[rec.name] = ModelQuality.from_record(rec.name, rec.version, rec.kind,
                                                    rec.active, rec.metrics)
        if newest is not None and not newest.active and newest.gate and rec.active:
            chosen[rec.name].rejected = (f"newer model {newest.version} not published: "
                                         f"{newest.gate}")
    return [chosen[name] for name in sorted(chosen)]


def need_actions(store: Store, tid: int, data: Dataset, needs: list[AnyNeed],
                 values: pd.Series, *, rows: int = 20,
                 ) -> tuple[list[NeedActions], list[pd.DataFrame]]:
    """Per need with stored scores: drivers of the scorer in use and the customers to act
    on first (score × value), with every need's whole ranking for the CSV."""
    from tailorcrm.needs.scoring import BASELINE_KIND, load_model, model_name

    actions, rankings = [], []
    limit = len(data.customers) + 1
    for need in needs:
        scores = store.need_scores.top(tid, need.name, limit=limit)
        if not scores:
            continue
        frame = act_first.ranking(scores, values, spend=need.task == "regression")
        record = store.models.active(tid, model_name(need.name))
        drivers: list[act_first.Driver] = []
        if record is not None and record.kind.startswith(BASELINE_KIND):
            drivers = [act_first.Driver(
                field=record.kind.split(":", 1)[-1],
                label=f"baseline: {record.metrics.get('baseline_kind', '')}".strip(),
                share=1.0, direction="the model did not beat it")]
        elif record is not None:
            try:
                model = load_model(record.path)
                drivers = act_first.model_drivers(model, act_first.sample_frame(model, data))
            except (NotFoundError, InsufficientDataError, OSError, ValueError) as exc:
                logger.warning("need %s: no drivers (%s)", need.name, exc)
        actions.append(act_first.need_actions(need.name, frame, drivers, rows=rows))
        rankings.append(frame)
    return actions, rankings


def tenant_report(
    store: Store,
    tid: int,
    tenant: str,
    *,
    config: ReportConfig | None = None,
    reference: dt.datetime | pd.Timestamp | None = None,
    save_segments: bool = True,
) -> NeedsReport:
    """The needs report of a tenant from the store; with ``save_segments`` the RFM and
    behavioural segments it computes are stored for recommendations, rules and exports.

    Other stored segmentations (not ``rfm`` / ``behaviour``) group the needs too.
    """
    cfg = config or ReportConfig()
    data = store.load_dataset(tid)
    needs = tenant_needs(store, tid)
    table = rfm_mod.rfm_table(data, reference, cfg.rfm)
    segmentation: Segmentation | None = None
    if cfg.behaviour_segments:
        try:
            segmentation = behavioural_segments(data, reference=reference,
                                                config=cfg.segmentation)
        except InsufficientDataError as exc:
            logger.warning("no behavioural segments: %s", exc.message)
    if save_segments:
        save_rfm(store, tid, table)
        if segmentation is not None:
            save_segmentation(store, tid, segmentation)
    own = {rfm_mod.SEGMENTATION} | ({segmentation.profile.name} if segmentation else set())
    extra = {name: stored_segments(store, tid, name)
             for name in store.segments.list(tid) if name not in own}
    report = build_report(
        data, needs, tenant=tenant, reference=reference, config=cfg, rfm=table,
        segmentation=segmentation, extra_segmentations=extra,
        models=model_quality(store, tid, {n.name for n in needs}))
    report.actions, rankings = need_actions(store, tid, data, needs, table["monetary"],
                                            rows=cfg.act_first_rows)
    report.attach_rankings(rankings)
    return report
