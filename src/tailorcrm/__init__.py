"""tailorcrm: personalization and per-organization customization for any CRM."""

__version__ = "0.1.0"
