"""The model store's registry: trained artifacts per tenant, with one active version per name."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Row, insert, select, update
from sqlalchemy.exc import IntegrityError

from tailorcrm.errors import ConflictError, NotFoundError
from tailorcrm.store.base import Repository, as_utc
from tailorcrm.store.tables import ModelVersion


class ModelRecord(BaseModel):
    """One registered model version; ``path`` locates its artifact files."""

    model_config = ConfigDict(extra="forbid")

    name: str
    version: str
    kind: str
    path: str
    config_hash: str = ""
    metrics: dict[str, Any] = Field(default_factory=dict)
    active: bool = False
    created_at: dt.datetime | None = None


class ModelRepository(Repository):
    """Register model versions, activate one atomically, find the active one."""

    def register(self, tid: int, name: str, version: str, kind: str, path: str,
                 metrics: Mapping[str, Any] | None = None, config_hash: str = "", *,
                 activate: bool = False) -> ModelRecord:
        """Record a trained artifact (inactive unless ``activate``); ConflictError if the
        version exists."""
        try:
            with self._engine.begin() as conn:
                conn.execute(insert(ModelVersion).values(
                    tenant_id=tid, name=name, version=version, kind=kind, path=path,
                    metrics=dict(metrics or {}), config_hash=config_hash, active=False))
        except IntegrityError as exc:
            raise ConflictError(f"model {name!r} version {version!r} exists already",
                                name=name, version=version) from exc
        if activate:
            self.activate(tid, name, version)
        return self.get(tid, name, version)

    def activate(self, tid: int, name: str, version: str) -> None:
        """Make ``version`` the one active version of ``name``, in one transaction.

        The name's rows are locked first, in id order, so concurrent activations queue up
        instead of deadlocking (PostgreSQL; SQLite serialises writers anyway).
        """
        with self._engine.begin() as conn:
            conn.execute(select(ModelVersion.id).where(
                ModelVersion.tenant_id == tid, ModelVersion.name == name).order_by(
                ModelVersion.id).with_for_update()).all()
            exists = conn.execute(select(ModelVersion.id).where(
                ModelVersion.tenant_id == tid, ModelVersion.name == name,
                ModelVersion.version == version)).scalar_one_or_none()
            if exists is None:
                raise NotFoundError(f"no model {name!r} version {version!r}", name=name,
                                    version=version)
            conn.execute(update(ModelVersion).where(
                ModelVersion.tenant_id == tid, ModelVersion.name == name,
                ModelVersion.active.is_(True)).values(active=False))
            conn.execute(update(ModelVersion).where(ModelVersion.id == exists).values(
                active=True))

    def active(self, tid: int, name: str) -> ModelRecord | None:
        """The active version of ``name``, or None."""
        return self._one(tid, (ModelVersion.name == name, ModelVersion.active.is_(True)))

    def get(self, tid: int, name: str, version: str) -> ModelRecord:
        """One version; NotFoundError if absent."""
        found = self._one(tid, (ModelVersion.name == name, ModelVersion.version == version))
        if found is None:
            raise NotFoundError(f"no model {name!r} version {version!r}", name=name,
                                version=version)
        return found

    def list(self, tid: int, name: str | None = None) -> list[ModelRecord]:
        """The tenant's model versions (of one name, or all), newest first."""
        stmt = select(ModelVersion).where(ModelVersion.tenant_id == tid)
        if name is not None:
            stmt = stmt.where(ModelVersion.name == name)
        with self._engine.connect() as conn:
            rows = conn.execute(stmt.order_by(ModelVersion.name, ModelVersion.id.desc()))
            return [self._record(r) for r in rows]

    def _one(self, tid: int, where: tuple[Any, ...]) -> ModelRecord | None:
        with self._engine.connect() as conn:
            row = conn.execute(select(ModelVersion).where(
                ModelVersion.tenant_id == tid, *where)).one_or_none()
            return None if row is None else self._record(row)

    @staticmethod
    def _record(r: Row[Any]) -> ModelRecord:
        return ModelRecord(name=r.name, version=r.version, kind=r.kind, path=r.path,
                           config_hash=r.config_hash, metrics=r.metrics or {}, active=r.active,
                           created_at=as_utc(r.created_at))
