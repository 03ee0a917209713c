"""SQLAlchemy 2 tables of the data store: the source of truth for every tenant's CRM data.

Custom-field values live in one JSON column per entity (``attributes``: JSON on SQLite, JSONB on
PostgreSQL) rather than in real columns per field. Tenants share the tables, so per-tenant columns
would mean DDL on every field change and tables that grow without bound; JSON keeps a field
change a metadata change. Values stay filterable in SQL (``json_extract`` / ``->>``) and a field
flagged ``indexed`` gets an expression index (see ``store/indexes.py``). Why and how is in
``docs/storage.md``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

JSONType = JSON().with_variant(JSONB(), "postgresql")
# SQLite only auto-increments INTEGER PRIMARY KEY, so big ids are plain integers there.
BigId = BigInteger().with_variant(Integer(), "sqlite")


def utcnow() -> dt.datetime:
    """The current time, timezone-aware UTC."""
    return dt.datetime.now(dt.UTC)


class Base(DeclarativeBase):
    """Declarative base of every table."""

    type_annotation_map: ClassVar[dict[Any, Any]] = {dict[str, Any]: JSONType, list[Any]: JSONType}


class Tenant(Base):
    """An organization using tailorcrm; every other row belongs to exactly one."""

    __tablename__ = "tenants"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # 32 random bytes, hex: keys recommendation ids are signed with and erasures hashed with
    secret: Mapped[str | None] = mapped_column(String(64), nullable=True)


class ApiKey(Base):
    """A tenant's API key: the public ``key_id`` and a hash of the secret, never the secret."""

    __tablename__ = "api_keys"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    key_id: Mapped[str] = mapped_column(String(32), unique=True)
    key_hash: Mapped[str] = mapped_column(String(128))
    scopes: Mapped[list[Any]] = mapped_column(JSONType, default=list)
    name: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class CustomField(Base):
    """A custom field of customers, items or events for one tenant (see ``schema/fields.py``)."""

    __tablename__ = "custom_fields"
    __table_args__ = (UniqueConstraint("tenant_id", "entity", "name"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    entity: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(63))
    spec: Mapped[dict[str, Any]] = mapped_column(JSONType)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class EventTypeRow(Base):
    """One entry of a tenant's event-type catalog (see ``schema/event_types.py``)."""

    __tablename__ = "event_types"
    __table_args__ = (UniqueConstraint("tenant_id", "name"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(63))
    spec: Mapped[dict[str, Any]] = mapped_column(JSONType)


class Customer(Base):
    """A customer of a tenant, known by the tenant's own ``customer_id``."""

    __tablename__ = "customers"
    __table_args__ = (UniqueConstraint("tenant_id", "customer_id"),
                      Index("ix_customers_tenant_updated", "tenant_id", "updated_at"))
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    customer_id: Mapped[str] = mapped_column(String(255))
    attributes: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    # consent: "granted" | "denied" | "unknown", each with the time it was last set
    consent_personalization: Mapped[str] = mapped_column(String(8), default="unknown")
    consent_personalization_at: Mapped[dt.datetime | None] = mapped_column(
        DateTime(timezone=True), nullable=True)
    consent_marketing: Mapped[str] = mapped_column(String(8), default="unknown")
    consent_marketing_at: Mapped[dt.datetime | None] = mapped_column(
        DateTime(timezone=True), nullable=True)
    # profiling for needs (0008), and where each purpose's state last came from:
    # "api" | "import" | "cli" (None: never set); every change is in ``consent_history``
    consent_profiling: Mapped[str] = mapped_column(String(8), default="unknown",
                                                   server_default="unknown")
    consent_profiling_at: Mapped[dt.datetime | None] = mapped_column(
        DateTime(timezone=True), nullable=True)
    consent_personalization_source: Mapped[str | None] = mapped_column(String(16),
                                                                       nullable=True)
    consent_marketing_source: Mapped[str | None] = mapped_column(String(16), nullable=True)
    consent_profiling_source: Mapped[str | None] = mapped_column(String(16), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Item(Base):
    """A product, service or piece of content of a tenant, known by its ``item_id``."""

    __tablename__ = "items"
    __table_args__ = (UniqueConstraint("tenant_id", "item_id"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    item_id: Mapped[str] = mapped_column(String(255))
    title: Mapped[str] = mapped_column(Text, default="")
    description: Mapped[str] = mapped_column(Text, default="")
    categories: Mapped[list[Any]] = mapped_column(JSONType, default=list)
    price: Mapped[float | None] = mapped_column(Float, nullable=True)
    available: Mapped[bool] = mapped_column(Boolean, default=True)
    attributes: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Event(Base):
    """One interaction; ``customer_id``/``item_id`` are the tenant's external ids.

    Events keep external ids (as Gorse's feedback table does) so that an import needs no id
    look-up per row, and erasure of a customer is one indexed delete.
    """

    __tablename__ = "events"
    __table_args__ = (
        UniqueConstraint("tenant_id", "idempotency_key"),
        Index("ix_events_tenant_customer_ts", "tenant_id", "customer_id", "ts"),
        Index("ix_events_tenant_item", "tenant_id", "item_id"),
        Index("ix_events_tenant_ts", "tenant_id", "ts"),
        {"sqlite_autoincrement": True},  # ids never reused: the change feed reads "id > last"
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    idempotency_key: Mapped[str] = mapped_column(String(255))
    customer_id: Mapped[str] = mapped_column(String(255))
    item_id: Mapped[str | None] = mapped_column(String(255), nullable=True)
    type: Mapped[str] = mapped_column(String(63))
    value: Mapped[float | None] = mapped_column(Float, nullable=True)
    ts: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    attributes: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)


class CustomerTombstone(Base):
    """A customer erased at some point: a keyed hash of the id (never the id itself).

    Jobs read their data, take a while, then write results; they drop the customers whose
    tombstone ``id`` is above the one they saw before reading (see ``store/tombstones.py``).
    """

    __tablename__ = "customer_tombstones"
    __table_args__ = (Index("ix_tombstones_tenant_hash", "tenant_id", "customer_hash"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    customer_hash: Mapped[str] = mapped_column(String(64))
    erased_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # set when the tenant lifted the suppression: the id may be imported again (0007)
    lifted_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True),
                                                          nullable=True)


class ImportRun(Base):
    """One import: what was read, loaded, rejected, and its data-quality report."""

    __tablename__ = "imports"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    entity: Mapped[str] = mapped_column(String(16))
    source: Mapped[str] = mapped_column(Text)
    started_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    rows_read: Mapped[int] = mapped_column(Integer, default=0)
    rows_loaded: Mapped[int] = mapped_column(Integer, default=0)
    rows_rejected: Mapped[int] = mapped_column(Integer, default=0)
    rows_duplicate: Mapped[int] = mapped_column(Integer, default=0)
    report: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)


class QuarantineRow(Base):
    """A rejected source row: where it came from, which field, and why."""

    __tablename__ = "quarantine"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    import_id: Mapped[int] = mapped_column(ForeignKey("imports.id", ondelete="CASCADE"), index=True)
    entity: Mapped[str] = mapped_column(String(16))
    row_number: Mapped[int] = mapped_column(Integer)
    field: Mapped[str] = mapped_column(String(255))
    reason: Mapped[str] = mapped_column(Text)
    raw: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)


class ConfigDoc(Base):
    """A versioned config document of a tenant: a rule set, a strategy, an action, a need."""

    __tablename__ = "config_docs"
    __table_args__ = (UniqueConstraint("tenant_id", "kind", "name", "version"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(128))
    version: Mapped[int] = mapped_column(Integer)
    body: Mapped[dict[str, Any]] = mapped_column(JSONType)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Segment(Base):
    """A customer's membership of a segment within a named segmentation (rfm, behaviour, ...)."""

    __tablename__ = "customer_segments"
    __table_args__ = (
        UniqueConstraint("tenant_id", "segmentation", "customer_id"),
        Index("ix_segments_tenant_seg_name", "tenant_id", "segmentation", "segment"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    segmentation: Mapped[str] = mapped_column(String(64))
    customer_id: Mapped[str] = mapped_column(String(255))
    segment: Mapped[str] = mapped_column(String(128))
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class NeedScore(Base):
    """A customer's predicted score for one need, with the model version and reasons."""

    __tablename__ = "need_scores"
    __table_args__ = (UniqueConstraint("tenant_id", "need", "customer_id"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    need: Mapped[str] = mapped_column(String(128))
    customer_id: Mapped[str] = mapped_column(String(255))
    score: Mapped[float] = mapped_column(Float)
    model_version: Mapped[str] = mapped_column(String(64))
    reasons: Mapped[list[Any]] = mapped_column(JSONType, default=list)
    scored_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class RecommendationList(Base):
    """A precomputed top-N list, stamped with the model version and the config hash it used."""

    __tablename__ = "recommendation_lists"
    __table_args__ = (UniqueConstraint("tenant_id", "strategy", "customer_id"),
                      {"sqlite_autoincrement": True})  # a replacement always moves max(id)
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    strategy: Mapped[str] = mapped_column(String(128))
    customer_id: Mapped[str] = mapped_column(String(255))
    model_version: Mapped[str] = mapped_column(String(64))
    config_hash: Mapped[str] = mapped_column(String(64))
    items: Mapped[list[Any]] = mapped_column(JSONType)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ModelVersion(Base):
    """A trained model artifact of a tenant: where its files are, its metrics, whether active."""

    __tablename__ = "model_versions"
    __table_args__ = (
        UniqueConstraint("tenant_id", "name", "version"),
        # at most one active version per (tenant, name), enforced by the database
        Index("uq_model_versions_active", "tenant_id", "name", unique=True,
              sqlite_where=text("active"), postgresql_where=text("active")),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(128))
    version: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(64))
    path: Mapped[str] = mapped_column(Text)
    config_hash: Mapped[str] = mapped_column(String(64), default="")
    metrics: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    active: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Job(Base):
    """A background job (training) of a tenant: its state and progress, shared by every worker.

    The worker running it (``owner``: host and process id) touches ``heartbeat_at`` every few
    seconds; a queued or running job whose heartbeat is too old belonged to a worker that died
    and is marked failed (``store/jobs.py``). At most one queued or running job per tenant and
    kind, enforced by the database.
    """

    __tablename__ = "jobs"
    __table_args__ = (
        Index("ix_jobs_tenant_created", "tenant_id", "created_at"),
        Index("uq_jobs_active", "tenant_id", "kind", unique=True,
              sqlite_where=text("status IN ('queued', 'running')"),
              postgresql_where=text("status IN ('queued', 'running')")),
    )
    job_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), default="queued")
    step: Mapped[str] = mapped_column(String(200), default="")
    done: Mapped[int] = mapped_column(Integer, default=0)
    total: Mapped[int | None] = mapped_column(Integer, nullable=True)
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    started_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    heartbeat_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    error: Mapped[dict[str, Any] | None] = mapped_column(JSONType, nullable=True)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSONType, nullable=True)
    owner: Mapped[str] = mapped_column(String(255), default="")


class AuditEntry(Base):
    """One admin or privacy action of a tenant, append-only (``store/audit.py`` has no update
    or delete; database triggers refuse both).

    ``actor`` is the API key id (``key:<id>``) or ``cli``; ``target`` names what was acted on,
    a keyed hash where it would be personal (a customer id); ``details`` never holds personal
    data (counts, names of settings).
    """

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_tenant_id", "tenant_id", "id"),
                      {"sqlite_autoincrement": True})  # ids never reused
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    actor: Mapped[str] = mapped_column(String(128))
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str | None] = mapped_column(String(200), nullable=True)
    details: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ConsentChange(Base):
    """One change of a customer's consent for one purpose, append-only: the value, where it
    came from (``api``, ``import``, ``cli``) and when it took effect (``store/consent.py``).

    Keyed by the external ``customer_id`` like the other customer tables, so erasure deletes
    it with them (``store/erasure.py``).
    """

    __tablename__ = "consent_history"
    __table_args__ = (Index("ix_consent_history_tenant_customer", "tenant_id", "customer_id",
                            "id"),
                      {"sqlite_autoincrement": True})  # ids never reused: the order of changes
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    customer_id: Mapped[str] = mapped_column(String(255))
    purpose: Mapped[str] = mapped_column(String(32))
    value: Mapped[str] = mapped_column(String(8))
    source: Mapped[str] = mapped_column(String(16))
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ConsoleSession(Base):
    """A web-console session: opened by signing in with an API key, bound to that key.

    Only a SHA-256 of the cookie's token is stored; the CSRF token every form posts back is
    per session. Revoking the key ends its sessions (they are read joined with the key).
    """

    __tablename__ = "console_sessions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"),
                                           index=True)
    key_id: Mapped[str] = mapped_column(String(32), index=True)
    scopes: Mapped[list[Any]] = mapped_column(JSONType, default=list)
    csrf: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), index=True)
