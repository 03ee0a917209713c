"""Versioned config documents of a tenant (rule sets, strategies, actions, needs)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict
from sqlalchemy import func, insert, select
from sqlalchemy.exc import IntegrityError

from tailorcrm.errors import ConflictError, NotFoundError
from tailorcrm.store.base import Repository, as_utc
from tailorcrm.store.tables import ConfigDoc


class ConfigInfo(BaseModel):
    """The newest version of one config document."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: str
    name: str
    version: int
    created_at: dt.datetime | None


class ConfigRepository(Repository):
    """Each ``put`` of a changed body adds a version; old versions stay readable."""

    def put(self, tid: int, kind: str, name: str, body: Mapping[str, Any]) -> int:
        """Store ``body`` as the next version (or return the newest if it is identical)."""
        doc = dict(body)
        with self._engine.begin() as conn:
            latest = conn.execute(
                select(ConfigDoc.version, ConfigDoc.body).where(
                    ConfigDoc.tenant_id == tid, ConfigDoc.kind == kind, ConfigDoc.name == name)
                .order_by(ConfigDoc.version.desc()).limit(1)).first()
            if latest is not None and latest.body == doc:
                return int(latest.version)
            version = 1 if latest is None else int(latest.version) + 1
            try:
                conn.execute(insert(ConfigDoc).values(
                    tenant_id=tid, kind=kind, name=name, version=version, body=doc))
            except IntegrityError as exc:
                raise ConflictError(f"{kind} {name!r} was changed concurrently; retry",
                                    kind=kind, name=name) from exc
        return version

    def get(self, tid: int, kind: str, name: str, version: int | None = None) -> dict[str, Any]:
        """The body of one version (the newest by default); NotFoundError if absent."""
        stmt = select(ConfigDoc.body).where(
            ConfigDoc.tenant_id == tid, ConfigDoc.kind == kind, ConfigDoc.name == name)
        if version is None:
            stmt = stmt.order_by(ConfigDoc.version.desc()).limit(1)
        else:
            stmt = stmt.where(ConfigDoc.version == version)
        with self._engine.connect() as conn:
            body = conn.execute(stmt).scalar_one_or_none()
        if body is None:
            where = f" version {version}" if version is not None else ""
            raise NotFoundError(f"no {kind} {name!r}{where}", kind=kind, name=name,
                                version=version)
        return dict(body)

    def versions(self, tid: int, kind: str, name: str) -> list[int]:
        """The stored versions of one document, oldest first."""
        with self._engine.connect() as conn:
            return [int(v) for v in conn.execute(select(ConfigDoc.version).where(
                ConfigDoc.tenant_id == tid, ConfigDoc.kind == kind, ConfigDoc.name == name,
            ).order_by(ConfigDoc.version)).scalars()]

    def list(self, tid: int, kind: str | None = None) -> list[ConfigInfo]:
        """The newest version of each document (of one kind, or all), by kind and name."""
        newest = select(ConfigDoc.kind, ConfigDoc.name,
                        func.max(ConfigDoc.version).label("version")).where(
            ConfigDoc.tenant_id == tid).group_by(ConfigDoc.kind, ConfigDoc.name)
        if kind is not None:
            newest = newest.where(ConfigDoc.kind == kind)
        sub = newest.subquery()
        stmt = select(ConfigDoc.kind, ConfigDoc.name, ConfigDoc.version,
                      ConfigDoc.created_at).join(sub, (ConfigDoc.kind == sub.c.kind) & (
                          ConfigDoc.name == sub.c.name) & (ConfigDoc.version == sub.c.version)
                      ).where(ConfigDoc.tenant_id == tid).order_by(ConfigDoc.kind, ConfigDoc.name)
        with self._engine.connect() as conn:
            return [ConfigInfo(kind=r.kind, name=r.name, version=int(r.version),
                               created_at=as_utc(r.created_at)) for r in conn.execute(stmt)]
