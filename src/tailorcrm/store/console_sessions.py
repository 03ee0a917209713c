"""Web-console sessions: opened with an API key, ended by signing out, expiry or revocation.

The browser holds a random token in an HttpOnly cookie; the store holds its SHA-256 (a stolen
database yields no usable cookie), the tenant, the key's id and scopes, and the session's CSRF
token. A session is read joined with its key, so a revoked key ends its sessions at once, in
every worker.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets

from pydantic import BaseModel, ConfigDict
from sqlalchemy import delete, insert, select

from tailorcrm.store.base import Repository
from tailorcrm.store.tables import ApiKey, ConsoleSession, Tenant, utcnow


class SessionRecord(BaseModel):
    """A live session: whose it is and the CSRF token its forms must carry."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    tenant: str
    tid: int
    key_id: str
    scopes: tuple[str, ...]
    csrf: str
    expires_at: dt.datetime


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class ConsoleSessionRepository(Repository):
    """Open, read and end console sessions."""

    def open(self, tid: int, key_id: str, scopes: tuple[str, ...], *,
             ttl: dt.timedelta) -> tuple[str, str]:
        """A new session for key ``key_id``; returns ``(token, csrf)`` (the token once)."""
        token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        now = utcnow()
        with self._engine.begin() as conn:
            conn.execute(delete(ConsoleSession).where(ConsoleSession.expires_at < now))
            conn.execute(insert(ConsoleSession).values(
                token_hash=_digest(token), tenant_id=tid, key_id=key_id, scopes=list(scopes),
                csrf=csrf, created_at=now, expires_at=now + ttl))
        return token, csrf

    def get(self, token: str) -> SessionRecord | None:
        """The session of ``token`` while it is unexpired and its key unrevoked; else None."""
        if not token or len(token) > 200:
            return None
        with self._engine.connect() as conn:
            row = conn.execute(
                select(ConsoleSession.tenant_id, ConsoleSession.key_id, ConsoleSession.scopes,
                       ConsoleSession.csrf, ConsoleSession.expires_at, Tenant.slug)
                .join(ApiKey, ApiKey.key_id == ConsoleSession.key_id)
                .join(Tenant, Tenant.id == ConsoleSession.tenant_id)
                .where(ConsoleSession.token_hash == _digest(token),
                       ApiKey.revoked_at.is_(None),
                       ApiKey.tenant_id == ConsoleSession.tenant_id)).first()
        if row is None:
            return None
        expires = row.expires_at if row.expires_at.tzinfo else row.expires_at.replace(
            tzinfo=dt.UTC)
        if expires <= utcnow():
            return None
        return SessionRecord(tenant=str(row.slug), tid=int(row.tenant_id), key_id=row.key_id,
                             scopes=tuple(row.scopes), csrf=row.csrf, expires_at=expires)

    def close(self, token: str) -> None:
        """End the session of ``token`` (signing out); nothing when there is none."""
        with self._engine.begin() as conn:
            conn.execute(delete(ConsoleSession).where(
                ConsoleSession.token_hash == _digest(token)))
