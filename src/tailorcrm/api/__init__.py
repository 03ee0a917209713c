"""The REST API: app factory, dependencies, error mapping and one router per resource."""

from tailorcrm.api.app import create_app

__all__ = ["create_app"]
