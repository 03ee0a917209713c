"""Tenants: the organizations using tailorcrm, each with its own event-type catalog."""

from __future__ import annotations

import datetime as dt
import logging
import re
from dataclasses import dataclass

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError

from tailorcrm.errors import ConflictError, NotFoundError, ValidationError
from tailorcrm.schema.event_types import DEFAULT_EVENT_TYPES
from tailorcrm.store.base import Repository, as_utc
from tailorcrm.store.tables import EventTypeRow, Tenant

log = logging.getLogger(__name__)

SLUG_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


@dataclass(frozen=True)
class TenantInfo:
    """A tenant as listed: id, slug, display name, creation time."""

    id: int
    slug: str
    name: str
    created_at: dt.datetime | None


def check_slug(slug: str) -> str:
    """The slug if it is valid (lower-case letters, digits, ``_`` and ``-``), else raise."""
    if not SLUG_PATTERN.match(slug):
        raise ValidationError(
            f"invalid tenant slug {slug!r}: use 1-64 lower-case letters, digits, '_' or '-'",
            field="tenant")
    return slug


class TenantRepository(Repository):
    """Create, find and list tenants."""

    def ensure(self, slug: str, name: str = "") -> int:
        """The id of tenant ``slug``, creating it (with the default event types) if new."""
        found = self.find(slug)
        if found is not None:
            return found
        try:
            return self.create(slug, name)
        except ConflictError:  # created concurrently by another process
            return self.id_of(slug)

    def create(self, slug: str, name: str = "") -> int:
        """Create tenant ``slug`` and seed its event-type catalog; ConflictError if it exists."""
        check_slug(slug)
        try:
            with self._engine.begin() as conn:
                tid = conn.execute(
                    insert(Tenant).values(slug=slug, name=name or slug).returning(Tenant.id)
                ).scalar_one()
                conn.execute(insert(EventTypeRow), [
                    {"tenant_id": tid, "name": et.name, "spec": et.model_dump(mode="json")}
                    for et in DEFAULT_EVENT_TYPES
                ])
        except IntegrityError as exc:
            raise ConflictError(f"tenant {slug!r} exists already", tenant=slug) from exc
        log.info("created tenant %s (id %d)", slug, tid)
        return int(tid)

    def find(self, slug: str) -> int | None:
        """The id of tenant ``slug``, or None."""
        with self._engine.connect() as conn:
            tid = conn.execute(select(Tenant.id).where(Tenant.slug == slug)).scalar_one_or_none()
        return None if tid is None else int(tid)

    def id_of(self, slug: str) -> int:
        """The id of tenant ``slug``; NotFoundError if there is none."""
        tid = self.find(slug)
        if tid is None:
            raise NotFoundError(f"no tenant {slug!r} (create it with `tailorcrm tenants create`)",
                                tenant=slug)
        return tid

    def slug_of(self, tid: int) -> str:
        """The slug of tenant id ``tid``; NotFoundError if there is none."""
        with self._engine.connect() as conn:
            slug = conn.execute(select(Tenant.slug).where(Tenant.id == tid)).scalar_one_or_none()
        if slug is None:
            raise NotFoundError(f"no tenant with id {tid}", tenant_id=tid)
        return str(slug)

    def list(self) -> list[TenantInfo]:
        """Every tenant, by slug."""
        with self._engine.connect() as conn:
            rows = conn.execute(
                select(Tenant.id, Tenant.slug, Tenant.name, Tenant.created_at).order_by(Tenant.slug)
            ).all()
        return [TenantInfo(int(r.id), r.slug, r.name, as_utc(r.created_at)) for r in rows]
