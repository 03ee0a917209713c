"""Bulk loading for imports: one chunk per transaction, deferred event indexes, checkpoints."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine

from tailorcrm.store.bulk import (
    BulkWriter,
    deferred_event_indexes,
    ensure_event_indexes,
    stored_event_bound,
)
from tailorcrm.store.consent import ConsentRepository
from tailorcrm.store.engine import checkpoint

if TYPE_CHECKING:
    import pandas as pd


@dataclass(frozen=True)
class QuarantineBatch:
    """A chunk's rejected rows: source row numbers, fields, reasons and raw values."""

    rows: Sequence[int]
    fields: Sequence[str]
    reasons: Sequence[str]
    raw: Sequence[Any]


class BulkLoader:
    """Write cleaned import chunks fast (COPY on PostgreSQL, executemany on SQLite)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def write_chunk(self, tid: int, import_id: int, entity: str, rows: pd.DataFrame, *,
                    customers: pd.DataFrame | None = None, items: pd.DataFrame | None = None,
                    quarantine: QuarantineBatch | None = None) -> int:
        """Write one cleaned chunk in one transaction: the customers and items it creates,
        its ``entity`` rows (``events``, ``customers`` or ``items``) and its quarantined
        rows. Returns the rows inserted or changed."""
        with self._engine.begin() as conn:
            writer = BulkWriter(conn)
            if customers is not None and len(customers):
                writer.customers(tid, customers, create_only=True)
            if items is not None and len(items):
                writer.items(tid, items, create_only=True)
            if entity == "events":
                changed = writer.events(tid, rows)
            elif entity == "customers":
                changed = writer.customers(tid, rows, create_only=False)
                # consent with time, source "import" and a history row (as the API records)
                changed = max(changed, ConsentRepository.apply_import(conn, tid, rows))
            else:
                changed = writer.items(tid, rows, create_only=False)
            if quarantine is not None and len(quarantine.rows):
                writer.quarantine(tid, import_id, entity, quarantine.rows, quarantine.fields,
                                  quarantine.reasons, quarantine.raw)
        return changed

    def prepare_events(self) -> None:
        """Build any events index a bulk load interrupted earlier left missing (SQLite)."""
        if self._engine.dialect.name == "sqlite":
            ensure_event_indexes(self._engine)

    @contextmanager
    def deferred_indexes(self, enabled: bool) -> Iterator[None]:
        """Drop the deferrable events indexes during a large SQLite load, rebuild after."""
        with deferred_event_indexes(self._engine, enabled):
            yield

    def stored_event_bound(self) -> int:
        """An upper bound of the events stored (all tenants), in O(1)."""
        return stored_event_bound(self._engine)

    def checkpoint(self) -> None:
        """Fold a SQLite WAL back into the database after bulk writes (no-op on PostgreSQL)."""
        checkpoint(self._engine)
