"""The demo tenant's custom fields, with the feature and pii flags a real CRM would set."""

from __future__ import annotations

from tailorcrm.demo.vocabulary import (
    BRANDS,
    CHANNELS,
    CONTRACTS,
    INDUSTRIES,
    ITEM_TIERS,
    LOYALTY_TIERS,
    REGIONS,
    TICKET_TOPICS,
)
from tailorcrm.schema.fields import Entity, FieldSpec, FieldType


def custom_fields(entity: Entity | None = None) -> list[FieldSpec]:
    """FieldSpecs of every demo custom field (of one ``entity`` when given).

    Contact name and e-mail are ``pii`` and not features; the rest of the customer and item
    fields are features (``notes`` as free text), event fields are not.
    """
    e, f = FieldType.ENUM, True
    specs = [
        FieldSpec(entity="customer", name="industry", type=e, enum_values=tuple(INDUSTRIES),
                  feature=f, indexed=True, required=True, description="Customer's industry."),
        FieldSpec(entity="customer", name="region", type=e, enum_values=REGIONS, feature=f,
                  indexed=True, description="Sales region."),
        FieldSpec(entity="customer", name="loyalty_tier", type=e, enum_values=LOYALTY_TIERS,
                  feature=f, indexed=True, description="Loyalty programme tier."),
        FieldSpec(entity="customer", name="company_size", type=FieldType.INTEGER, feature=f,
                  description="Number of employees."),
        FieldSpec(entity="customer", name="budget", type=FieldType.NUMBER, feature=f,
                  description="Typical budget per order."),
        FieldSpec(entity="customer", name="contract", type=e, enum_values=CONTRACTS, feature=f,
                  indexed=True, description="Contract length."),
        FieldSpec(entity="customer", name="preferred_categories", type=FieldType.LIST,
                  feature=f, description="Categories the customer said they care about."),
        FieldSpec(entity="customer", name="signup_date", type=FieldType.DATE, feature=f,
                  description="Date the account was opened."),
        FieldSpec(entity="customer", name="newsletter", type=FieldType.BOOLEAN, feature=f,
                  description="Subscribed to the newsletter."),
        FieldSpec(entity="customer", name="notes", type=FieldType.TEXT, feature=f,
                  description="Free-text notes of the account manager."),
        FieldSpec(entity="customer", name="contact_name", type=FieldType.STRING, pii=True,
                  description="Main contact's name."),
        FieldSpec(entity="customer", name="contact_email", type=FieldType.STRING, pii=True,
                  description="Main contact's e-mail address."),
        FieldSpec(entity="item", name="brand", type=e, enum_values=BRANDS, feature=f,
                  indexed=True, description="Brand."),
        FieldSpec(entity="item", name="tier", type=e, enum_values=ITEM_TIERS, feature=f,
                  description="Product tier."),
        FieldSpec(entity="item", name="eco_friendly", type=FieldType.BOOLEAN, feature=f,
                  description="Carries an eco label."),
        FieldSpec(entity="item", name="launch_date", type=FieldType.DATE,
                  description="Date the item entered the catalog."),
        FieldSpec(entity="event", name="channel", type=e, enum_values=CHANNELS,
                  description="Channel the interaction happened in."),
        FieldSpec(entity="event", name="amount", type=FieldType.NUMBER,
                  description="Money of a purchase or return: quantity x price."),
        FieldSpec(entity="event", name="topic", type=e, enum_values=TICKET_TOPICS,
                  description="Topic of a service ticket."),
    ]
    return [s for s in specs if entity is None or s.entity == entity]

