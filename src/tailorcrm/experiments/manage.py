"""Saving, listing and measuring a tenant's experiments (the service the API, CLI and console
share)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel

from tailorcrm.customize.actions import load_catalog
from tailorcrm.customize.configs import put_config
from tailorcrm.customize.strategies import load_strategy
from tailorcrm.errors import ConflictError, NotFoundError, TailorCRMError
from tailorcrm.experiments.attribution import Exposure, Outcome, Rules, attribute
from tailorcrm.experiments.config import (
    EXPERIMENT_KIND,
    Experiment,
    load_experiment,
    parse_experiment,
)
from tailorcrm.experiments.report import ExperimentResults, summarize
from tailorcrm.serving.feedback import ensure_feedback_field
from tailorcrm.serving.rec_ids import parse_recommendation_id, recommendation_key
from tailorcrm.store import Store


class ExperimentInfo(BaseModel):
    """One experiment in a list: its newest version, status and exposures so far."""

    name: str
    version: int
    surface: str
    placement: str
    status: str
    start: dt.datetime
    end: dt.datetime | None
    variants: list[str]
    exposures: int
    winner: str | None


def _check_refs(store: Store, tid: int, exp: Experiment) -> None:
    """Every strategy or catalog the experiment names exists (NotFoundError names it)."""
    for v in exp.variants:
        try:
            if v.strategy is not None:
                load_strategy(store.configs, tid, v.strategy)
            if v.catalog is not None:
                load_catalog(store.configs, tid, v.catalog)
        except NotFoundError as exc:
            raise NotFoundError(f"variants.{v.name}: {exc.message}", variant=v.name,
                                **exc.details) from exc
    if exp.surface == "recommendations":
        load_strategy(store.configs, tid, exp.placement)


def _overlaps(a: Experiment, b: Experiment) -> bool:
    far = dt.datetime.max.replace(tzinfo=dt.UTC)
    return a.start < (b.end or far) and b.start < (a.end or far)


def save_experiment(store: Store, tid: int, body: Mapping[str, Any] | Experiment,
                    now: dt.datetime | None = None) -> int:
    """Check and store an experiment as its next version; returns the version.

    ConflictError when another running experiment takes over the same placement at an
    overlapping time, or when a started experiment (running or stopped) would change its
    variants or shares (that would move customers between arms: start a new one).
    """
    exp = body if isinstance(body, Experiment) else parse_experiment(body)
    _check_refs(store, tid, exp)
    moment = now or dt.datetime.now(dt.UTC)
    try:
        old: Experiment | None = load_experiment(store.configs, tid, exp.name)
    except NotFoundError:
        old = None
    if old is not None and old.start <= moment and \
            [(v.name, v.share) for v in old.variants] != \
            [(v.name, v.share) for v in exp.variants]:
        raise ConflictError(f"experiment {exp.name!r} has started: its variants and shares "
                            "cannot change (start a new experiment under another name)",
                            field="variants", experiment=exp.name)
    if exp.status == "running":
        for info in store.configs.list(tid, EXPERIMENT_KIND):
            if info.name == exp.name:
                continue
            other = load_experiment(store.configs, tid, info.name)
            if other.status == "running" and (other.surface, other.placement) == (
                    exp.surface, exp.placement) and _overlaps(exp, other):
                raise ConflictError(
                    f"experiment {other.name!r} already runs on {exp.surface} of "
                    f"{exp.placement!r} at an overlapping time", field="placement",
                    experiment=other.name)
    ensure_feedback_field(store, tid)  # purchases may carry the recommendation id from now
    return put_config(store.configs, tid, EXPERIMENT_KIND, exp.name, exp)


def list_experiments(store: Store, tid: int) -> list[ExperimentInfo]:
    """The tenant's experiments, by name."""
    counts = store.experiments.counts(tid)
    out = []
    for info in store.configs.list(tid, EXPERIMENT_KIND):
        try:
            exp = load_experiment(store.configs, tid, info.name)
        except (TailorCRMError, ValueError):
            continue
        out.append(ExperimentInfo(
            name=exp.name, version=info.version, surface=exp.surface,
            placement=exp.placement, status=exp.status, start=exp.start, end=exp.end,
            variants=[v.name for v in exp.variants], exposures=counts.get(exp.name, 0),
            winner=exp.winner))
    return out


def _variant_of(key: bytes, experiment: str, customer_id: str, rec_id: str | None,
                seen: dict[str, tuple[str, str | None, str | None]]) -> str | None:
    """The variant of ``experiment`` a verified recommendation id names, for its customer;
    None for no id, a forged one, or an id of another experiment or customer."""
    if rec_id is None:
        return None
    found = seen.get(rec_id)
    if found is None:
        try:
            ref = parse_recommendation_id(key, rec_id)
            found = (ref.customer_id, ref.experiment, ref.variant)
        except NotFoundError:
            found = ("", None, None)
        seen[rec_id] = found
    owner, exp, variant = found
    return variant if exp == experiment and owner == customer_id else None


def experiment_results(store: Store, tid: int, name: str, *,
                       now: dt.datetime | None = None) -> ExperimentResults:
    """Attribute the experiment's outcomes and summarize them (NotFoundError if absent)."""
    exp = load_experiment(store.configs, tid, name)
    moment = now or dt.datetime.now(dt.UTC)
    rows = store.experiments.exposures(tid, name)
    exposures = [Exposure(r.customer_id, r.variant, r.ts, r.consented) for r in rows]
    key = recommendation_key(store, tid)
    seen: dict[str, tuple[str, str | None, str | None]] = {}
    consented = {e.customer_id for e in exposures if e.consented}
    outcomes = (Outcome(o.customer_id, o.type, o.ts, o.value,
                        _variant_of(key, name, o.customer_id, o.recommendation_id, seen))
                for o in store.experiments.outcomes(tid, consented, exp.start, None))
    rules = Rules(start=exp.start, end=exp.end, window=dt.timedelta(hours=exp.window_hours),
                  churn=dt.timedelta(days=exp.churn_days), as_of=moment,
                  purchase_types=frozenset(exp.purchase_types),
                  click_types=frozenset(exp.click_types))
    got = attribute(exposures, outcomes, [v.name for v in exp.variants], rules)
    return summarize(exp, got, moment)
