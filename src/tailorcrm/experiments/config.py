"""An experiment as config: surface, variants and their traffic shares, dates and metrics.

Stored and versioned like strategies (config kind ``experiment``); a stop is a new version
with ``status = "stopped"``, so the history of every experiment stays readable.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from tailorcrm.customize.configs import ConfigStore, Format, dump_text, get_config, parse_text
from tailorcrm.customize.rules import RULE_NAME

EXPERIMENT_KIND = "experiment"
Surface = Literal["recommendations", "next_best_actions"]
Metric = Literal["conversion", "revenue", "click", "accepted", "churn"]
#: Metrics that are a proportion of customers (two-proportion z test); revenue is a mean.
PROPORTIONS: frozenset[str] = frozenset({"conversion", "click", "accepted", "churn"})
SHARE_TOLERANCE = 1e-6


class Variant(BaseModel):
    """One arm: what it serves and the share of customers assigned to it.

    ``strategy`` (recommendations) or ``catalog`` (next best actions) names the stored config
    the arm serves. The control arm may name none: it then serves what the placement served
    before the experiment (recommendations) or no action at all (next best actions).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=RULE_NAME)
    share: float = Field(gt=0.0, le=1.0)
    strategy: str | None = Field(None, pattern=RULE_NAME)
    catalog: str | None = Field(None, pattern=RULE_NAME)
    control: bool = False


class Experiment(BaseModel):
    """A/B(/n) test of strategies or action catalogs on one placement.

    Attributes
    ----------
    surface, placement:
        What is tested: ``recommendations`` of the strategy a client asks for (``placement``,
        e.g. ``homepage``; ``default`` by default) or ``next_best_actions`` of a catalog.
    variants:
        Two or more arms whose shares sum to 1; exactly one is the control.
    start, end:
        Customers are assigned from ``start`` until ``end`` (open-ended without one).
    primary_metric, guard_metrics:
        The metric the experiment decides on, and those that must not get worse.
    window_hours:
        Last-touch attribution: an outcome without a recommendation id counts for the variant
        of the customer's latest exposure when it came at most this long after it.
    churn_days:
        A customer churned when they had no event within this many days of first exposure.
    min_detectable_effect:
        Relative change of the primary metric the test should be able to detect (0.1: 10 %).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=RULE_NAME)
    description: str = ""
    surface: Surface = "recommendations"
    placement: str = Field("default", pattern=RULE_NAME)
    variants: tuple[Variant, ...] = Field(min_length=2, max_length=10)
    start: dt.datetime
    end: dt.datetime | None = None
    primary_metric: Metric = "conversion"
    guard_metrics: tuple[Metric, ...] = ()
    window_hours: float = Field(168.0, gt=0.0, le=24.0 * 366)
    churn_days: int = Field(30, ge=1, le=3660)
    min_detectable_effect: float = Field(0.1, gt=0.0, le=10.0)
    alpha: float = Field(0.05, gt=0.0, lt=0.5)
    power: float = Field(0.8, gt=0.5, lt=1.0)
    purchase_types: tuple[str, ...] = Field(("purchase",), min_length=1)
    click_types: tuple[str, ...] = ("click",)
    status: Literal["running", "stopped"] = "running"
    winner: str | None = None

    @field_validator("start", "end")
    @classmethod
    def _utc(cls, value: dt.datetime | None) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else \
            value.astimezone(dt.UTC)

    @model_validator(mode="after")
    def _checks(self) -> Experiment:
        names = [v.name for v in self.variants]
        if len(set(names)) != len(names):
            raise ValueError("variants: variant names must be unique")
        total = sum(v.share for v in self.variants)
        if abs(total - 1.0) > SHARE_TOLERANCE:
            raise ValueError(f"variants: shares must sum to 1 (they sum to {total:g})")
        controls = [v.name for v in self.variants if v.control]
        if len(controls) != 1:
            raise ValueError("variants: exactly one variant must have control = true "
                             f"(found {len(controls)})")
        for v in self.variants:
            own, other = ("strategy", "catalog") if self.surface == "recommendations" else \
                ("catalog", "strategy")
            if getattr(v, other) is not None:
                raise ValueError(f"variants.{v.name}.{other}: a {self.surface} experiment's "
                                 f"variants name a {own}, not a {other}")
            if getattr(v, own) is None and not v.control:
                raise ValueError(f"variants.{v.name}.{own}: every variant but the control "
                                 f"names the {own} it serves")
        if self.end is not None and self.end <= self.start:
            raise ValueError("end: must be after start")
        if self.primary_metric in self.guard_metrics:
            raise ValueError("guard_metrics: the primary metric is not also a guard metric")
        if self.winner is not None and self.winner not in names:
            raise ValueError(f"winner: {self.winner!r} is not a variant")
        return self

    @property
    def control(self) -> Variant:
        """The control arm."""
        return next(v for v in self.variants if v.control)

    def variant(self, name: str) -> Variant:
        """The arm called ``name`` (KeyError when there is none)."""
        for v in self.variants:
            if v.name == name:
                return v
        raise KeyError(name)

    def running_at(self, moment: dt.datetime) -> bool:
        """True while the experiment assigns customers: running, started, not ended."""
        return self.status == "running" and self.start <= moment and (
            self.end is None or moment < self.end)

    @property
    def metrics(self) -> tuple[Metric, ...]:
        """The primary metric, then the guard metrics."""
        return (self.primary_metric, *self.guard_metrics)

    def to_text(self, fmt: Format = "toml") -> str:
        """TOML or JSON that :meth:`from_text` reads back to an equal experiment."""
        return dump_text(self, fmt)

    @classmethod
    def from_text(cls, text: str, fmt: Format = "toml") -> Experiment:
        return cls.model_validate(parse_text(text, fmt))


def load_experiment(configs: ConfigStore, tid: int, name: str,
                    version: int | None = None) -> Experiment:
    """A stored experiment (newest version by default); NotFoundError when absent."""
    return get_config(configs, tid, EXPERIMENT_KIND, name, Experiment, version)


def parse_experiment(body: Mapping[str, Any]) -> Experiment:
    """An experiment from a mapping (pydantic's ValidationError names the field)."""
    return Experiment.model_validate(dict(body))
