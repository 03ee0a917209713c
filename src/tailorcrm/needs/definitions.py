"""Need definitions as data: a label column, or churn / propensity / spend over a horizon."""

from __future__ import annotations

import datetime as dt
import difflib
import logging
from collections.abc import Collection
from typing import TYPE_CHECKING, Annotated, Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from tailorcrm.errors import ConfigError, InsufficientDataError, NotFoundError, ValidationError
from tailorcrm.needs.behaviour import event_amounts
from tailorcrm.needs.cutoffs import data_end, to_utc
from tailorcrm.schema.fields import FieldSpec, FieldType, coerce_value, is_missing

if TYPE_CHECKING:
    from tailorcrm.data.dataset import Dataset

log = logging.getLogger(__name__)

CONFIG_KIND = "need"
"""The ``kind`` under which needs are stored with ``store.configs``."""

LabelValue = str | int | float | bool
# Field types a binary label can be read from; numbers, dates, lists and text cannot.
LABEL_TYPES = frozenset({FieldType.BOOLEAN, FieldType.ENUM, FieldType.STRING, FieldType.INTEGER})


as_utc = to_utc


class _NeedBase(BaseModel):
    """What every need has: a name, a description and the minimum class counts to train."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[a-z][a-z0-9_]{0,62}$")
    description: str = ""
    min_positives: int = Field(default=10, ge=1)

    @property
    def task(self) -> Literal["binary", "regression"]:
        """``binary`` for yes/no needs, ``regression`` for amounts."""
        return "binary"

    @property
    def derived(self) -> bool:
        """True when labels come from events after a cut-off (time-aware evaluation)."""
        return True

    def _check_counts(self, y: pd.Series) -> None:
        if self.task != "binary":
            if len(y) < 2 * self.min_positives:
                raise InsufficientDataError(
                    f"need {self.name!r} has {len(y)} customers; at least "
                    f"{2 * self.min_positives} are needed", need=self.name, customers=len(y))
            return
        pos = int((y == 1).sum())
        neg = int((y == 0).sum())
        if pos < self.min_positives or neg < self.min_positives:
            raise InsufficientDataError(
                f"need {self.name!r} has {pos} positives and {neg} negatives; at least "
                f"{self.min_positives} of each are needed",
                need=self.name, positives=pos, negatives=neg, required=self.min_positives)


class LabelNeed(_NeedBase):
    """A need read from a customer field, e.g. Telco's ``churn == "Yes"``.

    ``positive`` lists the values that mean "has the need"; it defaults to ``True`` for a
    boolean field. Customers with a missing value are left out.
    """

    kind: Literal["label"] = "label"
    field: str
    positive: tuple[LabelValue, ...] = ()

    @property
    def derived(self) -> bool:
        return False

    def field_spec(self, data: Dataset) -> FieldSpec | None:
        """The label field's spec, if the tenant declared one."""
        return next((f for f in data.customer_fields if f.name == self.field), None)

    def labels(
        self, data: Dataset, cutoff: dt.datetime | None = None, *, check: bool = True
    ) -> pd.Series:
        """0/1 per customer with a value in the field (``cutoff`` is ignored)."""
        if self.field not in data.customers.columns:
            raise ValidationError(
                f"need {self.name!r}: customers have no field {self.field!r}",
                field=self.field, reason="missing")
        spec = self.field_spec(data)
        raw = data.customers[self.field]
        if spec is not None and spec.type not in LABEL_TYPES:
            raise ValidationError(
                f"need {self.name!r}: field {self.field!r} is of type {spec.type.value}; a label "
                f"needs one of {sorted(t.value for t in LABEL_TYPES)}",
                field=self.field, reason="wrong_type", type=spec.type.value)
        if spec is None and pd.api.types.is_float_dtype(raw):
            non_missing = raw.dropna()
            if not np.all(np.isin(non_missing.unique(), [0.0, 1.0])):
                raise ValidationError(
                    f"need {self.name!r}: field {self.field!r} holds continuous numbers, "
                    "not a label", field=self.field, reason="wrong_type")
        positives = self._positives(spec)
        raw = raw.astype(object)  # a nullable column holds pd.NA, which is_missing misses
        present = ~raw.map(lambda v: v is pd.NA or is_missing(v)).astype(bool)
        values = raw[present]
        if spec is not None:
            values = values.map(lambda v: coerce_value(spec, v))
        y = values.isin(list(positives)).astype(np.int8)
        y.index.name = "customer_id"
        y.name = self.name
        if check:
            self._check_counts(y)
        return y

    def _positives(self, spec: FieldSpec | None) -> tuple[LabelValue, ...]:
        if not self.positive:
            if spec is not None and spec.type is FieldType.BOOLEAN:
                return (True,)
            raise ConfigError(f"need {self.name!r}: say which values of {self.field!r} are "
                              "positive", field="positive")
        if spec is None:
            return self.positive
        out = []
        for value in self.positive:
            try:
                out.append(coerce_value(spec, value))
            except ValueError as exc:
                raise ValidationError(
                    f"need {self.name!r}: positive value {value!r} does not fit field "
                    f"{self.field!r} ({spec.type.value}): {exc}",
                    field=self.field, reason="wrong_type") from exc
        return tuple(out)


class _HorizonNeed(_NeedBase):
    """A need derived from events in the ``horizon_days`` after a cut-off date.

    The population is every customer with an event (of ``population_types``, or of any type
    when empty) strictly before the cut-off, within ``lookback_days`` of it when set.
    """

    horizon_days: int = Field(default=90, ge=1)
    event_types: tuple[str, ...] = ("purchase",)
    population_types: tuple[str, ...] = ()
    lookback_days: int | None = Field(default=None, ge=1)
    require_full_horizon: bool = True
    as_of: dt.datetime | None = None
    """Where the data for labels ends (the last cut-off is one horizon earlier); None reads
    it from the events (see :meth:`data_end`), never from the wall clock."""

    def data_end(self, data: Dataset) -> pd.Timestamp:
        """Where the labels' data ends: ``as_of`` when set, else read from the events.

        The end from the events is the last time whose trailing horizon holds a substantial
        share of the usual event volume (:func:`tailorcrm.needs.cutoffs.data_end`), so a few
        live events dated now do not move it to the wall clock.
        """
        if self.as_of is not None:
            return as_utc(self.as_of)
        if data.events.empty:
            raise InsufficientDataError(f"need {self.name!r}: there are no events",
                                        need=self.name)
        return data_end(data.events["ts"], self.horizon_days)

    def default_cutoff(self, data: Dataset) -> pd.Timestamp:
        """The latest cut-off that still leaves a whole horizon of covered future."""
        return self.data_end(data) - pd.Timedelta(days=self.horizon_days)

    def window(self, data: Dataset, cutoff: dt.datetime | None) -> tuple[pd.Timestamp,
                                                                           pd.Timestamp]:
        """``(cutoff, cutoff + horizon)``, checked to have future events."""
        cut = self.default_cutoff(data) if cutoff is None else as_utc(cutoff)
        end = cut + pd.Timedelta(days=self.horizon_days)
        last = self.data_end(data) if len(data.events) else None
        if last is None or last < cut:
            raise InsufficientDataError(
                f"need {self.name!r}: no events at or after the cut-off {cut.isoformat()}",
                need=self.name, cutoff=cut.isoformat(),
                last_event=None if last is None else last.isoformat())
        if self.require_full_horizon and last < end - pd.Timedelta(days=1):
            covered = (last - cut).days
            raise InsufficientDataError(
                f"need {self.name!r}: the cut-off {cut.date()} leaves {covered} days of "
                f"future events, the horizon needs {self.horizon_days}",
                need=self.name, cutoff=cut.isoformat(), future_days=covered,
                horizon_days=self.horizon_days)
        return cut, end

    def population(self, data: Dataset, cutoff: pd.Timestamp) -> pd.Index:
        """Customers active strictly before the cut-off (sorted customer ids)."""
        ev = data.events
        mask = ev["ts"] < cutoff
        if self.lookback_days is not None:
            mask &= ev["ts"] >= cutoff - pd.Timedelta(days=self.lookback_days)
        if self.population_types:
            mask &= ev["type"].isin(list(self.population_types))
        ids = pd.Index(sorted(pd.unique(ev.loc[mask, "customer_id"].astype(str))),
                       name="customer_id")
        return ids

    def future_events(self, data: Dataset, cut: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
        """Events of ``event_types`` in ``[cut, end)``."""
        ev = data.events
        mask = (ev["ts"] >= cut) & (ev["ts"] < end) & ev["type"].isin(list(self.event_types))
        return ev[mask]

    def labels(
        self, data: Dataset, cutoff: dt.datetime | None = None, *, check: bool = True
    ) -> pd.Series:
        """The label of every customer in the population at ``cutoff``."""
        cut, end = self.window(data, cutoff)
        pop = self.population(data, cut)
        y = self._label(data, pop, self.future_events(data, cut, end))
        y.index.name = "customer_id"
        y.name = self.name
        if check:
            self._check_counts(y)
        return y

    def _label(self, data: Dataset, pop: pd.Index, future: pd.DataFrame) -> pd.Series:
        raise NotImplementedError  # pragma: no cover - each need defines it


class ChurnNeed(_HorizonNeed):
    """Churn: no event of ``event_types`` (default purchase) in the horizon after the cut-off.

    The population defaults to customers with an event of ``event_types`` before the cut-off
    (a customer who never bought cannot stop buying).
    """

    kind: Literal["churn"] = "churn"

    def population(self, data: Dataset, cutoff: pd.Timestamp) -> pd.Index:
        if self.population_types:
            return super().population(data, cutoff)
        base = self.model_copy(update={"population_types": self.event_types})
        return _HorizonNeed.population(base, data, cutoff)

    def _label(self, data: Dataset, pop: pd.Index, future: pd.DataFrame) -> pd.Series:
        active = set(future["customer_id"].astype(str))
        return pd.Series(np.array([c not in active for c in pop], dtype=np.int8), index=pop)


class PropensityNeed(_HorizonNeed):
    """Propensity: an event of ``event_types`` on an item of ``categories`` or ``items``
    (any item when both are empty) in the horizon after the cut-off."""

    kind: Literal["propensity"] = "propensity"
    categories: tuple[str, ...] = ()
    items: tuple[str, ...] = ()

    def item_mask(self, data: Dataset, item_ids: pd.Series) -> np.ndarray:
        """True for events whose item is in the need's item group."""
        if not self.categories and not self.items:
            return np.ones(len(item_ids), dtype=bool)
        chosen = set(self.items)
        if self.categories and "categories" in data.items:
            wanted = set(self.categories)
            cats = data.items["categories"]
            chosen |= {str(i) for i, c in cats.items()
                       if isinstance(c, list | tuple | np.ndarray) and wanted & set(c)}
        return item_ids.astype(str).isin(chosen).to_numpy()

    def _label(self, data: Dataset, pop: pd.Index, future: pd.DataFrame) -> pd.Series:
        hits = future[self.item_mask(data, future["item_id"])]
        buyers = set(hits["customer_id"].astype(str))
        return pd.Series(np.array([c in buyers for c in pop], dtype=np.int8), index=pop)


class SpendNeed(_HorizonNeed):
    """Spend: the amount of ``event_types`` events in the horizon (a regression target).

    The amount of one event is quantity (``value``, 1 when missing) × item ``price`` (1 when
    unknown), see :func:`tailorcrm.needs.behaviour.event_amounts`.
    """

    kind: Literal["spend"] = "spend"

    @property
    def task(self) -> Literal["binary", "regression"]:
        return "regression"

    def _label(self, data: Dataset, pop: pd.Index, future: pd.DataFrame) -> pd.Series:
        amounts = pd.Series(event_amounts(data, future), index=future.index)
        spend = amounts.groupby(future["customer_id"].astype(str)).sum()
        return spend.reindex(pop, fill_value=0.0).astype(float)


Need = Annotated[LabelNeed | ChurnNeed | PropensityNeed | SpendNeed, Field(discriminator="kind")]
_ADAPTER: TypeAdapter[Any] = TypeAdapter(Need)


def parse_need(body: dict[str, Any]) -> LabelNeed | ChurnNeed | PropensityNeed | SpendNeed:
    """A need from its JSON/TOML body (``kind`` picks the class); ConfigError when invalid."""
    try:
        return _ADAPTER.validate_python(body)  # type: ignore[no-any-return]
    except ValueError as exc:
        raise ConfigError(f"invalid need definition: {exc}", body=body) from exc


AnyNeed = LabelNeed | ChurnNeed | PropensityNeed | SpendNeed


def save_need(store: Any, tenant_id: int, need: AnyNeed) -> int:
    """Store a need definition for a tenant; returns the new config version."""
    version: int = store.configs.put(tenant_id, CONFIG_KIND, need.name,
                                     need.model_dump(mode="json"))
    log.info("saved need %s (version %s) for tenant %s", need.name, version, tenant_id)
    return version


def load_need(store: Any, tenant_id: int, name: str, version: int | None = None) -> AnyNeed:
    """A tenant's stored need definition; NotFoundError when there is none."""
    try:
        body = store.configs.get(tenant_id, CONFIG_KIND, name, version=version)
    except NotFoundError as exc:
        raise NotFoundError(f"no need named {name!r}", need=name) from exc
    return parse_need(dict(body))


def list_needs(store: Any, tenant_id: int) -> list[AnyNeed]:
    """Every need a tenant defined (newest version of each), by name."""
    return [load_need(store, tenant_id, info.name)
            for info in store.configs.list(tenant_id, CONFIG_KIND)]


def _hint(name: str, known: Collection[str]) -> str:
    """`` (did you mean 'x'?)`` for the closest known name, or nothing."""
    squeezed = {" ".join(k.split()).casefold(): k for k in known}
    close = squeezed.get(" ".join(name.split()).casefold())
    if close is None:
        matches = difflib.get_close_matches(name, list(known), n=1, cutoff=0.8)
        close = matches[0] if matches else None
    return f" (did you mean {close!r}?)" if close is not None else ""


def unknown_item_refs(need: AnyNeed, item_ids: Collection[str],
                      categories: Collection[str]) -> list[str]:
    """What a propensity need's ``items`` / ``categories`` name that the tenant does not have.

    One line per unknown id or category, with the closest known one as a hint (a trailing
    space, another case, a typo). Empty for other needs or when everything matches.
    """
    if not isinstance(need, PropensityNeed):
        return []
    known_items, known_cats = set(map(str, item_ids)), set(map(str, categories))
    out = [f"item {i!r} matches no item{_hint(i, known_items)}"
           for i in need.items if i not in known_items]
    out += [f"category {c!r} matches no item's category{_hint(c, known_cats)}"
            for c in need.categories if c not in known_cats]
    return out


def check_item_refs(need: AnyNeed, item_ids: Collection[str],
                    categories: Collection[str]) -> None:
    """ValidationError naming every item id or category of ``need`` that matches nothing."""
    problems = unknown_item_refs(need, item_ids, categories)
    if problems:
        raise ValidationError(f"need {need.name!r}: " + "; ".join(problems),
                              need=need.name, reason="unknown_items", problems=problems)
