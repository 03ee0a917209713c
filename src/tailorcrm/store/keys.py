"""API keys per tenant: created once, stored as a SHA-256 hash, verified, revoked."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import logging
import secrets
from collections.abc import Iterable

from pydantic import BaseModel, ConfigDict
from sqlalchemy import insert, select, update

from tailorcrm.errors import AuthenticationError, NotFoundError, ValidationError
from tailorcrm.store.base import Repository, as_utc
from tailorcrm.store.tables import ApiKey, Tenant, utcnow

log = logging.getLogger(__name__)

SCOPES = ("read", "write", "admin")
PREFIX = "tcrm"


class ApiKeyInfo(BaseModel):
    """A key as listed: never the secret, never its hash."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    key_id: str
    name: str
    scopes: tuple[str, ...]
    created_at: dt.datetime | None
    revoked_at: dt.datetime | None

    @property
    def active(self) -> bool:
        """True until revoked."""
        return self.revoked_at is None


def has_scope(scopes: Iterable[str], needed: str) -> bool:
    """Whether ``scopes`` allow ``needed``: admin implies write, write implies read."""
    granted = set(scopes)
    return needed in granted or "admin" in granted or (needed == "read" and "write" in granted)


def hash_secret(secret: str) -> str:
    """SHA-256 of the secret, hex.

    A fast hash is right here: the secret carries 256 bits from ``secrets.token_urlsafe(32)``,
    so nobody can guess it offline, and slow password hashes (bcrypt, argon2) only exist to
    protect low-entropy human passwords at a large cost per API request.
    """
    return hashlib.sha256(secret.encode()).hexdigest()


def _check_scopes(scopes: Iterable[str]) -> tuple[str, ...]:
    chosen = tuple(dict.fromkeys(s.strip().lower() for s in scopes))
    bad = [s for s in chosen if s not in SCOPES]
    if bad or not chosen:
        raise ValidationError(f"invalid scopes {bad or []}: use one or more of {list(SCOPES)}",
                              field="scopes")
    return chosen


class ApiKeyRepository(Repository):
    """Create, verify, revoke and list API keys."""

    def create(self, tid: int, scopes: Iterable[str], name: str = "") -> tuple[str, str]:
        """A new key for tenant ``tid``; returns ``(key_id, secret)``.

        The secret (``tcrm_<key_id>_<token>``) is shown this once: only its hash is stored.
        """
        chosen = _check_scopes(scopes)
        key_id = secrets.token_hex(8)
        secret = f"{PREFIX}_{key_id}_{secrets.token_urlsafe(32)}"
        with self._engine.begin() as conn:
            conn.execute(insert(ApiKey).values(
                tenant_id=tid, key_id=key_id, key_hash=hash_secret(secret), scopes=list(chosen),
                name=name))
        log.info("created API key %s for tenant %d with scopes %s", key_id, tid, chosen)
        return key_id, secret

    def verify(self, secret: str) -> tuple[str, tuple[str, ...]]:
        """The tenant slug and scopes of a valid key.

        Raises
        ------
        AuthenticationError
            When the key is malformed, unknown or revoked.
        """
        parts = secret.strip().split("_", 2)
        if len(parts) != 3 or parts[0] != PREFIX:
            raise AuthenticationError("malformed API key")
        with self._engine.connect() as conn:
            row = conn.execute(
                select(ApiKey.key_hash, ApiKey.scopes, ApiKey.revoked_at, Tenant.slug)
                .join(Tenant, Tenant.id == ApiKey.tenant_id)
                .where(ApiKey.key_id == parts[1])).first()
        if row is None or not hmac.compare_digest(row.key_hash, hash_secret(secret.strip())):
            raise AuthenticationError("unknown API key")
        if row.revoked_at is not None:
            raise AuthenticationError("revoked API key")
        return str(row.slug), tuple(row.scopes)

    def revoke(self, key_id: str, *, tid: int | None = None) -> None:
        """Revoke a key (only within tenant ``tid`` when given); NotFoundError if unknown."""
        stmt = update(ApiKey).where(ApiKey.key_id == key_id, ApiKey.revoked_at.is_(None))
        if tid is not None:
            stmt = stmt.where(ApiKey.tenant_id == tid)
        with self._engine.begin() as conn:
            result = conn.execute(stmt.values(revoked_at=utcnow()))
        if not result.rowcount:
            raise NotFoundError(f"no active API key {key_id!r}", key_id=key_id)
        log.info("revoked API key %s", key_id)

    def list(self, tid: int) -> list[ApiKeyInfo]:
        """The tenant's keys, oldest first, revoked ones included."""
        with self._engine.connect() as conn:
            rows = conn.execute(
                select(ApiKey.key_id, ApiKey.name, ApiKey.scopes, ApiKey.created_at,
                       ApiKey.revoked_at).where(ApiKey.tenant_id == tid).order_by(ApiKey.id)).all()
        return [ApiKeyInfo(key_id=r.key_id, name=r.name, scopes=tuple(r.scopes),
                           created_at=as_utc(r.created_at), revoked_at=as_utc(r.revoked_at))
                for r in rows]
