"""Entry point of the demo generator: ``generate(config) -> DemoData``, deterministic per seed."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd

from tailorcrm.data.dataset import Dataset
from tailorcrm.demo.churn import plant_churn
from tailorcrm.demo.config import DemoConfig
from tailorcrm.demo.customers import make_customers
from tailorcrm.demo.events import make_events
from tailorcrm.demo.fields import custom_fields
from tailorcrm.demo.items import make_items
from tailorcrm.demo.latent import plant_space
from tailorcrm.demo.truth import DemoTruth, build_truth
from tailorcrm.schema.fields import FieldSpec, FieldType

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class DemoData:
    """A generated demo CRM: the three frames tailorcrm imports, and what was planted.

    Attributes
    ----------
    config:
        The config it was generated from.
    customers:
        ``customer_id``, ``consent_personalization``, ``consent_marketing``, then the customer
        custom fields (``custom_fields("customer")``); lists are Python lists.
    items:
        ``item_id``, ``title``, ``description``, ``categories`` (list), ``price``,
        ``available``, then the item custom fields.
    events:
        ``idempotency_key``, ``customer_id``, ``item_id`` (None for service tickets),
        ``type``, ``value`` (NaN if none), ``timestamp`` (``datetime64[ns, UTC]``), then the
        event custom fields ``channel``, ``amount``, ``topic``; in time order.
    truth:
        The ground truth (``DemoTruth``).
    """

    config: DemoConfig
    customers: pd.DataFrame
    items: pd.DataFrame
    events: pd.DataFrame
    truth: DemoTruth

    def fields(self) -> list[FieldSpec]:
        """The custom-field specs the frames follow."""
        return custom_fields()

    def to_dataset(self) -> Dataset:
        """The same data as a ``Dataset``, typed as ``Store.load_dataset`` types it.

        No store needed: attribute columns take the store loader's dtypes (numbers float,
        dates UTC datetimes, booleans nullable ``boolean``), and events keep ``customer_id``,
        ``item_id``, ``type``, ``value`` and ``ts`` (the event custom fields stay in
        ``self.events``).
        """
        customer_fields = tuple(custom_fields("customer"))
        item_fields = tuple(custom_fields("item"))
        events = self.events.rename(columns={"timestamp": "ts"})
        return Dataset(
            customers=_typed(self.customers.set_index("customer_id"), customer_fields),
            items=_typed(self.items.set_index("item_id"), item_fields),
            events=events[["customer_id", "item_id", "type", "value", "ts"]].copy(),
            customer_fields=customer_fields,
            item_fields=item_fields,
        )


def _typed(frame: pd.DataFrame, specs: tuple[FieldSpec, ...]) -> pd.DataFrame:
    """Attribute columns in the dtypes the store loader gives them."""
    out = frame.copy()
    for spec in specs:
        col = out[spec.name]
        if spec.type in (FieldType.INTEGER, FieldType.NUMBER):
            out[spec.name] = col.astype(float)
        elif spec.type in (FieldType.DATE, FieldType.DATETIME):
            out[spec.name] = pd.to_datetime(col, utc=True, format="ISO8601")
        elif spec.type is FieldType.BOOLEAN:
            out[spec.name] = col.astype("boolean")
        else:
            out[spec.name] = col.astype(object)
    return out


def generate(config: DemoConfig | None = None) -> DemoData:
    """Generate the demo CRM for ``config`` (defaults: 2,000 customers, 300 items)."""
    config = config or DemoConfig()
    started = time.perf_counter()
    # One independent stream per stage, so changing one stage leaves the others' draws alone.
    streams = [np.random.default_rng(s) for s in np.random.SeedSequence(config.seed).spawn(5)]
    space = plant_space(config, streams[0])
    items = make_items(config, space, streams[1])
    customers = make_customers(config, space, streams[2])
    churn = plant_churn(config, customers, streams[3])
    events = make_events(config, customers, items, churn, streams[4])
    truth = build_truth(config, space, customers, items, churn)
    logger.info("demo data: %d customers, %d items, %d events in %.2f s",
                len(customers.frame), len(items.frame), len(events),
                time.perf_counter() - started)
    return DemoData(config=config, customers=customers.frame, items=items.frame, events=events,
                    truth=truth)
