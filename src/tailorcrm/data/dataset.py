"""The in-memory data set models train on: customers, items and events of one tenant."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

import numpy as np
import pandas as pd
from scipy import sparse

from tailorcrm.data.vocab import Vocabulary
from tailorcrm.schema.event_types import DEFAULT_EVENT_TYPES, EventType
from tailorcrm.schema.fields import FieldSpec

EVENT_COLUMNS = ("customer_id", "item_id", "type", "value", "ts")
Weighting = Literal["catalog", "binary", "count", "value"]


def _empty_events() -> pd.DataFrame:
    return pd.DataFrame({
        "customer_id": pd.Series(dtype=object),
        "item_id": pd.Series(dtype=object),
        "type": pd.Series(dtype=object),
        "value": pd.Series(dtype=float),
        "ts": pd.Series(dtype="datetime64[ns, UTC]"),
    })


def normalize_events(events: pd.DataFrame) -> pd.DataFrame:
    """Events with the canonical columns and dtypes; missing columns get defaults.

    ``customer_id`` and ``item_id`` become strings (``item_id`` may stay missing); ``type``
    defaults to ``purchase``, ``value`` to NaN, ``ts`` to the row order as seconds since the epoch.
    """
    ev = events.copy()
    ev["customer_id"] = ev["customer_id"].astype(str)
    ev["item_id"] = ev["item_id"].where(ev["item_id"].isna(), ev["item_id"].astype(str))
    if "type" not in ev:
        ev["type"] = "purchase"
    if "value" not in ev:
        ev["value"] = np.nan
    ev["value"] = pd.to_numeric(ev["value"], errors="coerce").astype(float)
    if "ts" not in ev:
        ev["ts"] = pd.to_datetime(np.arange(len(ev)), unit="s", utc=True)
    else:
        ev["ts"] = pd.to_datetime(ev["ts"], utc=True)
    return ev.reset_index(drop=True)


@dataclass(frozen=True)
class Dataset:
    """Immutable view of one tenant's data, as models and analyses consume it.

    Attributes
    ----------
    customers:
        One row per customer, indexed by ``customer_id`` (str). Built-in columns
        ``consent_personalization`` and ``consent_marketing`` (``granted``/``denied``/
        ``unknown``), then one column per custom attribute.
    items:
        One row per item, indexed by ``item_id`` (str). Columns ``title``, ``description``,
        ``categories`` (list of str), ``price`` (float, NaN if unknown), ``available`` (bool),
        then one column per custom attribute.
    events:
        Columns ``customer_id`` (str), ``item_id`` (str or None), ``type`` (str),
        ``value`` (float, NaN if none), ``ts`` (``datetime64[ns, UTC]``), in time order.
    customer_fields, item_fields:
        The tenant's custom-field specs (``feature=True`` ones are model inputs).
    event_types:
        The tenant's event-type catalog.
    """

    customers: pd.DataFrame
    items: pd.DataFrame
    events: pd.DataFrame = field(default_factory=_empty_events)
    customer_fields: tuple[FieldSpec, ...] = ()
    item_fields: tuple[FieldSpec, ...] = ()
    event_types: tuple[EventType, ...] = DEFAULT_EVENT_TYPES
    customer_vocab: Vocabulary = field(default=None)  # type: ignore[assignment]
    item_vocab: Vocabulary = field(default=None)  # type: ignore[assignment]
    #: Matrices built so far, by their arguments (a hybrid's parts ask for the same ones;
    #: ``replace`` starts a new, empty memo, since init=False fields are not copied).
    _matrices: dict[tuple[object, ...], sparse.csr_matrix] = field(
        default_factory=dict, init=False, repr=False, compare=False)
    _indices: list[tuple[np.ndarray, np.ndarray]] = field(
        default_factory=list, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.customer_vocab is None:
            object.__setattr__(self, "customer_vocab", Vocabulary.union(
                self.customers.index, self.events["customer_id"].dropna()))
        if self.item_vocab is None:
            object.__setattr__(self, "item_vocab", Vocabulary.union(
                self.items.index, self.events["item_id"].dropna()))

    # -- construction -------------------------------------------------------------------
    @classmethod
    def from_events(
        cls,
        events: pd.DataFrame,
        *,
        customers: pd.DataFrame | None = None,
        items: pd.DataFrame | None = None,
        **kwargs: object,
    ) -> Dataset:
        """A data set from an events frame (see ``normalize_events``) and optional tables."""
        ev = normalize_events(events)
        if customers is None:
            ids = pd.Index(pd.unique(ev["customer_id"]), name="customer_id")
            customers = pd.DataFrame(index=ids)
            customers["consent_personalization"] = "unknown"
            customers["consent_marketing"] = "unknown"
        if items is None:
            ids = pd.unique(ev["item_id"].dropna())
            items = pd.DataFrame(index=pd.Index(ids, name="item_id"))
            items["title"] = ""
            items["description"] = ""
            items["categories"] = [[] for _ in range(len(items))]
            items["price"] = np.nan
            items["available"] = True
        return cls(customers=customers, items=items, events=ev, **kwargs)  # type: ignore[arg-type]

    def with_events(self, events: pd.DataFrame) -> Dataset:
        """The same customers, items and vocabularies with another set of events (a split)."""
        return replace(self, events=normalize_events(events))

    # -- views for models ---------------------------------------------------------------
    @property
    def n_customers(self) -> int:
        return len(self.customer_vocab)

    @property
    def n_items(self) -> int:
        return len(self.item_vocab)

    def event_type(self, name: str) -> EventType | None:
        """The catalog entry of an event type, if any."""
        return next((t for t in self.event_types if t.name == name), None)

    def event_weights(self, events: pd.DataFrame | None = None) -> np.ndarray:
        """Preference weight of each event from the catalog (0 for non-preference types).

        ``uses_value`` types weigh ``weight * (value - value_center)``; unknown types weigh 1.
        """
        ev = self.events if events is None else events
        out = np.ones(len(ev), dtype=np.float64)
        types = ev["type"].to_numpy(dtype=object)
        values = ev["value"].to_numpy(dtype=np.float64)
        for et in self.event_types:
            mask = types == et.name
            if not mask.any():
                continue
            if not et.preference:
                out[mask] = 0.0
            elif et.uses_value:
                vals = np.where(np.isnan(values[mask]), et.value_center + 1.0, values[mask])
                out[mask] = et.weight * (vals - et.value_center)
            else:
                out[mask] = et.weight
        return out

    def interaction_matrix(
        self,
        *,
        weighting: Weighting = "catalog",
        types: Sequence[str] | None = None,
        clip_negative: bool = False,
    ) -> sparse.csr_matrix:
        """Customer × item matrix (``n_customers`` × ``n_items``) of summed event weights.

        ``weighting``: ``catalog`` sums catalog weights; ``count`` counts events; ``binary``
        marks any positive-weight pair with 1; ``value`` keeps the last ``value`` (ratings).
        Events without an item, or with an id outside the vocabularies, are skipped. Each
        call returns its own copy of a matrix built once per set of arguments.
        """
        key = (weighting, None if types is None else tuple(types), clip_negative)
        cached = self._matrices.get(key)
        if cached is None:
            cached = self._matrices[key] = self._build_matrix(weighting, types, clip_negative)
        return cached.copy()

    def _build_matrix(self, weighting: Weighting, types: Sequence[str] | None,
                      clip_negative: bool) -> sparse.csr_matrix:
        ev = self.events
        rows, cols = self._event_indices()
        ok = (rows >= 0) & (cols >= 0)
        if types is not None:
            ok &= ev["type"].isin(list(types)).to_numpy(bool)
        ok &= ev["item_id"].notna().to_numpy(bool)
        shape = (self.n_customers, self.n_items)
        if weighting == "value":
            frame = pd.DataFrame({"r": rows[ok], "c": cols[ok], "v": ev["value"].to_numpy()[ok]})
            frame = frame.dropna().drop_duplicates(["r", "c"], keep="last")
            return sparse.csr_matrix((frame["v"].to_numpy(float), (frame["r"], frame["c"])), shape)
        data = np.ones(int(ok.sum())) if weighting == "count" else self.event_weights(ev)[ok]
        mat = sparse.csr_matrix((data, (rows[ok], cols[ok])), shape=shape, dtype=np.float64)
        mat.sum_duplicates()
        if weighting == "binary":
            mat.data = (mat.data > 0).astype(np.float64)
            mat.eliminate_zeros()
        elif clip_negative:
            mat.data = np.maximum(mat.data, 0.0)
            mat.eliminate_zeros()
        return mat

    def _event_indices(self) -> tuple[np.ndarray, np.ndarray]:
        """Customer and item index of every event (``-1`` where unknown), looked up once."""
        if not self._indices:
            ev = self.events
            items = ev["item_id"].where(ev["item_id"].notna(), "")
            self._indices.append((self.customer_vocab.index(ev["customer_id"]),
                                  self.item_vocab.index(items)))
        return self._indices[0]

    def personalizable_customers(self) -> np.ndarray:
        """Boolean mask over ``customer_vocab``: False where personalization consent is denied."""
        mask = np.ones(self.n_customers, dtype=bool)
        if "consent_personalization" in self.customers:
            denied = self.customers.index[self.customers["consent_personalization"] == "denied"]
            idx = self.customer_vocab.index(denied)
            mask[idx[idx >= 0]] = False
        return mask
