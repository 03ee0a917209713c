"""Tenants: the organizations using tailorcrm, each with its own event-type catalog and secret."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import logging
import re
import secrets
import threading
from dataclasses import dataclass

from sqlalchemy import Engine, insert, select, update
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
    """Create, find and list tenants; hand out keys derived from each tenant's secret.

    A tenant's secret (32 random bytes) is made with the tenant (or on first use for tenants
    older than it) and never leaves the store; :meth:`key` derives one key per purpose from it
    and caches the keys in this process, so signing and verifying read the database once.
    """

    def __init__(self, engine: Engine) -> None:
        super().__init__(engine)
        self._keys: dict[tuple[int, str], bytes] = {}
        self._keys_lock = threading.Lock()

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
                    insert(Tenant).values(slug=slug, name=name or slug,
                                          secret=secrets.token_hex(32)).returning(Tenant.id)
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

    def key(self, tid: int, purpose: str) -> bytes:
        """A 32-byte key of tenant ``tid`` for one ``purpose`` (HMAC-SHA256 of the secret).

        Raises
        ------
        NotFoundError
            When there is no tenant ``tid``.
        """
        found = self._keys.get((tid, purpose))
        if found is not None:
            return found
        derived = hmac.new(self._secret(tid), purpose.encode(), hashlib.sha256).digest()
        with self._keys_lock:
            self._keys[(tid, purpose)] = derived
        return derived

    def _secret(self, tid: int) -> bytes:
        """The tenant's secret, made now when the tenant has none yet (first writer wins)."""
        query = select(Tenant.id, Tenant.secret).where(Tenant.id == tid)
        with self._engine.connect() as conn:
            row = conn.execute(query).one_or_none()
        if row is not None and row.secret is None:
            with self._engine.begin() as conn:
                conn.execute(update(Tenant).where(Tenant.id == tid, Tenant.secret.is_(None))
                             .values(secret=secrets.token_hex(32)))
                row = conn.execute(query).one_or_none()
        if row is None or row.secret is None:
            raise NotFoundError(f"no tenant with id {tid}", tenant_id=tid)
        return bytes.fromhex(row.secret)
