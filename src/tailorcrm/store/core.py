"""The :class:`Store`: one object giving every repository of the data store, by purpose."""

from __future__ import annotations

import logging
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

from sqlalchemy import Engine, text
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from tailorcrm.errors import StorageError
from tailorcrm.schema.fields import pii_feature_policy
from tailorcrm.store.audit import AuditRepository
from tailorcrm.store.bulk_reads import BulkReads
from tailorcrm.store.changes import ChangeFeed
from tailorcrm.store.configs import ConfigRepository
from tailorcrm.store.consent import ConsentRepository
from tailorcrm.store.console_reads import ConsoleReads
from tailorcrm.store.console_sessions import ConsoleSessionRepository
from tailorcrm.store.customers import CustomerRepository
from tailorcrm.store.engine import make_engine
from tailorcrm.store.erasure import ErasureRepository, erase_customer, holds_customer
from tailorcrm.store.event_types import EventTypeRepository
from tailorcrm.store.events import EventRepository
from tailorcrm.store.experiments import ExperimentRepository
from tailorcrm.store.fields import FieldRepository
from tailorcrm.store.imports import ImportRepository
from tailorcrm.store.items import ItemRepository
from tailorcrm.store.jobs import JobRepository
from tailorcrm.store.keys import ApiKeyRepository
from tailorcrm.store.loading import BulkLoader
from tailorcrm.store.migrate import upgrade
from tailorcrm.store.model_store import ModelStore, default_artifacts_dir
from tailorcrm.store.models import ModelRepository
from tailorcrm.store.need_scores import NeedScoreRepository
from tailorcrm.store.recommendations import RecommendationRepository
from tailorcrm.store.results import ResultsStore
from tailorcrm.store.retention import RetentionRepository
from tailorcrm.store.segments import SegmentRepository
from tailorcrm.store.tenant_settings import load_tenant_settings
from tailorcrm.store.tenants import TenantRepository
from tailorcrm.store.tombstones import TombstoneRepository

if TYPE_CHECKING:  # the Dataset (pandas, SciPy) is imported when a tenant is first loaded
    from tailorcrm.data.dataset import Dataset

log = logging.getLogger(__name__)


class Store:
    """The storage of every tenant, by purpose, over one SQLAlchemy engine.

    * the data store (source of truth): ``tenants``, ``customers``, ``items``, ``events``, ...
    * the results store, ``results``: segments, need scores, precomputed lists (also reachable
      as ``segments``, ``need_scores``, ``recommendations``, the same objects);
    * the model store, ``model_store``: the registry (``models``) and the artifact files under
      ``artifacts_dir`` (by default beside the database:
      :func:`~tailorcrm.store.model_store.default_artifacts_dir`).

    Open it with :meth:`open`; every repository method takes the tenant id first
    (``tid = store.tenants.ensure("demo")``) and never reads or writes another tenant's rows.
    """

    def __init__(self, engine: Engine, artifacts_dir: Path | None = None) -> None:
        self.engine = engine
        self.tenants = TenantRepository(engine)
        self.fields = FieldRepository(engine)
        self.event_types = EventTypeRepository(engine)
        self.tombstones = TombstoneRepository(engine, self.tenants)  # also the suppressions
        self.customers = CustomerRepository(engine, self.fields, self.tombstones)
        self.consent = ConsentRepository(engine)  # consent history; who denied a purpose
        self.items = ItemRepository(engine, self.fields)
        self.keys = ApiKeyRepository(engine)
        self.imports = ImportRepository(engine)
        self.loading = BulkLoader(engine)  # imports' chunk writes
        self.configs = ConfigRepository(engine)
        self.events = EventRepository(engine, self.fields, self.event_types, self.configs,
                                      self.tombstones)
        # precomputed results (the cache), guarded against erasures, and the model registry
        self.segments = SegmentRepository(engine, self.tombstones)
        self.need_scores = NeedScoreRepository(engine, self.tombstones)
        self.recommendations = RecommendationRepository(engine, self.tombstones)
        self.results = ResultsStore(self.segments, self.need_scores, self.recommendations)
        self.models = ModelRepository(engine)
        self.model_store = ModelStore(self.models, artifacts_dir if artifacts_dir is not None
                                      else default_artifacts_dir(engine.url))
        self.changes = ChangeFeed(engine)
        self.bulk = BulkReads(engine)
        self.jobs = JobRepository(engine)  # background jobs, shared by every worker
        self.audit = AuditRepository(engine)  # append-only log of admin and privacy actions
        self.erasures = ErasureRepository(engine, self.tombstones)
        self.retention = RetentionRepository(engine)  # old events deleted, with the audit entry
        self.sessions = ConsoleSessionRepository(engine)  # web-console sign-ins
        self.console = ConsoleReads(engine)  # the console's aggregates and searches
        self.experiments = ExperimentRepository(engine)  # A/B exposures and their outcomes

    @classmethod
    def open(cls, url: str, *, migrate: bool = True, artifacts_dir: Path | None = None) -> Store:
        """Connect to ``url`` and (by default) migrate its schema to the newest revision.

        ``artifacts_dir`` is the model store's root (the ``artifacts_dir`` setting); None
        puts it beside the database.

        Raises
        ------
        StorageError
            When the database cannot be reached.
        ConfigError
            When the URL names an unsupported backend.
        """
        engine = make_engine(url)
        try:
            with engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            if migrate:
                upgrade(engine)
        except OperationalError as exc:
            engine.dispose()
            raise StorageError(f"cannot open the database: {exc.orig}",
                               url=engine.url.render_as_string(hide_password=True)) from exc
        return cls(engine, artifacts_dir)

    def ping(self) -> None:
        """Check that the database answers; StorageError when it does not."""
        try:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except SQLAlchemyError as exc:
            raise StorageError(f"database unreachable: {exc}") from exc

    @property
    def backend(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self.engine.dialect.name

    def close(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def load_dataset(self, tid: int) -> Dataset:
        """Everything one tenant has, as the in-memory Dataset models train on."""
        from tailorcrm.store import loader  # heavy: only commands that load data pay for it

        allowed = load_tenant_settings(self.configs, tid).pii_features_allowed
        # a pii field is no model feature unless the tenant allows it (pii_features_allowed)
        fields = pii_feature_policy(self.fields.list(tid), allowed)
        event_types = self.event_types.list(tid)
        with self.engine.connect() as conn:
            data = loader.load_dataset(conn, tid, fields, event_types)
        log.info("loaded tenant %d: %d customers, %d items, %d events", tid,
                 len(data.customers), len(data.items), len(data.events))
        return data

    def erase_customer(self, tid: int, customer_id: str) -> dict[str, int]:
        """Delete a customer with their events, segments, need scores and recommendation lists.

        Returns ``{table: rows deleted}``; all in one transaction, which also leaves a
        tombstone (a keyed hash of the id) for jobs that read the customer before.
        """
        customer_hash = self.tombstones.hasher(tid)(customer_id)
        with self.engine.begin() as conn:
            return erase_customer(conn, tid, customer_id, customer_hash)

    def holds_customer(self, tid: int, customer_id: str, *, events: bool = True) -> bool:
        """Whether the tenant has a customer row (or, with ``events``, any event) for the id."""
        with self.engine.connect() as conn:
            return holds_customer(conn, tid, customer_id, events=events)
