"""The event-type catalog: each interaction type with the weight it carries as a preference."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class EventType(BaseModel):
    """One interaction type of a tenant's catalog.

    ``weight`` is how much one event of this type says the customer wants the item; negative
    weights (returns, rejections) count against. ``uses_value`` marks types whose ``value``
    (a rating, a feedback score) scales the weight around ``value_center``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[a-z][a-z0-9_]{0,62}$")
    weight: float = 1.0
    uses_value: bool = False
    value_center: float = 0.0
    preference: bool = True  # False: not a signal about an item (e.g. a service ticket)
    description: str = ""


DEFAULT_EVENT_TYPES: tuple[EventType, ...] = (
    EventType(name="view", weight=1.0, description="Customer viewed the item."),
    EventType(name="click", weight=1.5, description="Customer clicked the item."),
    EventType(name="add_to_cart", weight=3.0, description="Item added to the cart."),
    EventType(name="purchase", weight=5.0, description="Item bought; value is the quantity."),
    EventType(name="return", weight=-3.0, description="Item returned or order cancelled."),
    EventType(name="rating", weight=1.0, uses_value=True, value_center=0.0,
              description="Explicit rating; value is the rating."),
    EventType(name="service_ticket", weight=0.0, preference=False,
              description="A support ticket, with or without an item."),
    EventType(name="feedback", weight=1.0, uses_value=True, value_center=0.0,
              description="Free feedback; value is a score (negative counts against)."),
    EventType(name="reject", weight=-5.0, description="A recommendation the customer rejected."),
)
