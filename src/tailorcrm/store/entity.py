"""Shared upsert/get/delete/list of customers and items: one row per tenant and external id."""

from __future__ import annotations

import builtins
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from pydantic import BaseModel
from sqlalchemy import Connection, Engine, Table, delete, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.sql.elements import ColumnElement

from tailorcrm.errors import NotFoundError, ValidationError
from tailorcrm.schema.fields import FieldType, coerce_value, is_missing
from tailorcrm.schema.ids import canonical, id_problem
from tailorcrm.store.base import Repository, as_utc, rows_of
from tailorcrm.store.fields import FieldRepository
from tailorcrm.store.indexes import attribute_expr
from tailorcrm.store.records import UpsertResult
from tailorcrm.store.tables import utcnow
from tailorcrm.store.validation import RowErrors, merge_attributes, split_row, validate_attributes

if TYPE_CHECKING:  # pandas loads when these functions run: light commands skip it
    import pandas as pd

RecordT = TypeVar("RecordT", bound=BaseModel)
CHUNK = 500  # ids per look-up query (well under SQLite's bound-parameter limit)


class EntityRepository(Repository, Generic[RecordT]):
    """Base of the customer and item repositories (subclasses name table, columns, record)."""

    entity: str
    table: Table
    id_column: str
    builtin: tuple[str, ...]  # built-in columns a row may set, besides the id
    record: type[RecordT]

    def __init__(self, engine: Engine, fields: FieldRepository) -> None:
        super().__init__(engine)
        self._fields = fields

    # -- hooks --------------------------------------------------------------------------
    def _builtin_values(self, given: dict[str, Any], old: Mapping[str, Any] | None, row: int,
                        row_id: str, errors: RowErrors) -> dict[str, Any]:
        """Validated built-in column values of one row (subclasses override)."""
        return {}

    # -- writes -------------------------------------------------------------------------
    def upsert(self, tid: int, rows: Iterable[Mapping[str, Any]] | pd.DataFrame) -> UpsertResult:
        """Insert new rows and update existing ones (by external id), all or nothing.

        A row gives the id, any built-in columns, and custom values (top-level keys or an
        ``attributes`` mapping). An update only changes what the row gives; ``None`` clears a
        custom value (so does NaN, when ``rows`` is a DataFrame). Raises ValidationError naming
        row, field and reason when any row is bad; nothing is written then.
        """
        specs = {f.name: f for f in self._fields.list(tid, self.entity)}
        errors = RowErrors(self.entity)
        merged: dict[str, dict[str, Any]] = {}
        batch = rows_of(rows)
        with self._engine.connect() as conn:
            existing = self._existing(conn, tid, batch)
        for i, row in enumerate(batch):
            raw_id = row.get(self.id_column)
            if is_missing(raw_id):
                errors.add(i, None, self.id_column, "missing id")
                continue
            row_id = canonical(raw_id)
            if (problem := id_problem(row_id)) is not None:
                errors.add(i, row_id[:100], self.id_column, problem)
                continue
            old = merged.get(row_id) or existing.get(row_id)
            base, attrs = split_row(row, (self.id_column, *self.builtin))
            values = self._builtin_values(base, old, i, row_id, errors)
            new_attrs = validate_attributes(specs, attrs, row=i, row_id=row_id, errors=errors,
                                            new_row=old is None)
            record = dict(old) if old else {"tenant_id": tid, self.id_column: row_id,
                                            "created_at": utcnow()}
            record.update(values)
            record["attributes"] = merge_attributes(old and old.get("attributes"), new_attrs)
            record["updated_at"] = utcnow()
            merged[row_id] = record
        errors.raise_if_any()
        if merged:
            with self._engine.begin() as conn:
                self._write(conn, list(merged.values()))
        inserted = sum(1 for k in merged if k not in existing)
        return UpsertResult(inserted=inserted, updated=len(merged) - inserted)

    def delete(self, tid: int, external_id: str) -> bool:
        """Delete one row; True if it existed."""
        with self._engine.begin() as conn:
            result = conn.execute(delete(self.table).where(
                self.table.c.tenant_id == tid,
                self.table.c[self.id_column] == canonical(external_id)))
        return bool(result.rowcount)

    # -- reads --------------------------------------------------------------------------
    def find(self, tid: int, external_id: str) -> RecordT | None:
        """One row, or None."""
        with self._engine.connect() as conn:
            row = conn.execute(select(self.table).where(
                self.table.c.tenant_id == tid,
                self.table.c[self.id_column] == canonical(external_id))).mappings().first()
        return None if row is None else self._record(row)

    def get(self, tid: int, external_id: str) -> RecordT:
        """One row; NotFoundError if the tenant has none with that id."""
        found = self.find(tid, external_id)
        if found is None:
            raise NotFoundError(f"no {self.entity} {external_id!r}",
                                **{self.id_column: external_id})
        return found

    def list(self, tid: int, filters: Mapping[str, Any] | None = None, *, limit: int = 100,
             offset: int = 0) -> Sequence[RecordT]:
        """Rows whose values equal ``filters`` (built-in columns or custom fields), by id."""
        stmt = select(self.table).where(self.table.c.tenant_id == tid, *self._where(tid, filters))
        stmt = stmt.order_by(self.table.c[self.id_column]).limit(limit).offset(offset)
        with self._engine.connect() as conn:
            return [self._record(r) for r in conn.execute(stmt).mappings()]

    def count(self, tid: int, filters: Mapping[str, Any] | None = None) -> int:
        """How many rows match ``filters``."""
        stmt = select(func.count()).select_from(self.table).where(
            self.table.c.tenant_id == tid, *self._where(tid, filters))
        with self._engine.connect() as conn:
            return int(conn.execute(stmt).scalar_one())

    # -- internals ----------------------------------------------------------------------
    def _record(self, row: Mapping[Any, Any]) -> RecordT:
        data = {k: row[k] for k in self.record.model_fields if k in row}
        for key in ("created_at", "updated_at", "consent_personalization_at",
                    "consent_marketing_at"):
            if key in data:
                data[key] = as_utc(data[key])
        return self.record.model_validate(data)

    def _existing(self, conn: Connection, tid: int,
                  batch: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
        ids = sorted({canonical(r[self.id_column]) for r in batch
                      if not is_missing(r.get(self.id_column))})
        found: dict[str, dict[str, Any]] = {}
        id_col = self.table.c[self.id_column]
        for start in range(0, len(ids), CHUNK):
            chunk = ids[start:start + CHUNK]
            rows = conn.execute(select(self.table).where(
                self.table.c.tenant_id == tid, id_col.in_(chunk))).mappings()
            for r in rows:
                record = {k: v for k, v in r.items() if k != "id"}
                found[str(r[self.id_column])] = record
        return found

    def _write(self, conn: Connection, records: builtins.list[dict[str, Any]]) -> None:
        insert = pg_insert if self.backend == "postgresql" else sqlite_insert
        stmt = insert(self.table)
        keep = ("id", "tenant_id", self.id_column, "created_at")
        stmt = stmt.on_conflict_do_update(
            index_elements=[self.table.c.tenant_id, self.table.c[self.id_column]],
            set_={c.name: stmt.excluded[c.name] for c in self.table.columns if c.name not in keep},
        )
        conn.execute(stmt, records)

    def _where(self, tid: int, filters: Mapping[str, Any] | None,
               ) -> builtins.list[ColumnElement[bool]]:
        if not filters:
            return []
        specs = {f.name: f for f in self._fields.list(tid, self.entity)}
        clauses: builtins.list[ColumnElement[bool]] = []
        for key, value in filters.items():
            if key in self.builtin or key == self.id_column:
                clauses.append(self.table.c[key] == value)
                continue
            spec = specs.get(key)
            if spec is None:
                raise ValidationError(f"cannot filter on unknown {self.entity} field {key!r}",
                                      field=key)
            if spec.type is FieldType.LIST:
                raise ValidationError(f"cannot filter on list field {key!r}", field=key)
            try:
                coerced = coerce_value(spec.model_copy(update={"required": False,
                                                               "default": None}), value)
            except ValueError as exc:
                raise ValidationError(f"filter {key}: {exc}", field=key) from exc
            expr = attribute_expr(self.backend, self.table.c.attributes, key)
            clauses.append(expr == _sql_value(self.backend, coerced))
        return clauses


def _sql_value(dialect: str, value: Any) -> Any:
    """A coerced value as the index expression yields it (text on PostgreSQL)."""
    if dialect == "postgresql":
        return value if isinstance(value, str) else json.dumps(value)
    return int(value) if isinstance(value, bool) else value

