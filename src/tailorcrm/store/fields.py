"""Custom fields of a tenant: add, change and remove them, validating the stored values first."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    Connection,
    String,
    Table,
    bindparam,
    cast,
    delete,
    func,
    insert,
    literal_column,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql.elements import ColumnElement

from tailorcrm.errors import ConflictError, NotFoundError
from tailorcrm.schema.changes import ChangeReport, check_values
from tailorcrm.schema.fields import ENTITIES, FieldSpec
from tailorcrm.store.base import Repository
from tailorcrm.store.indexes import (
    TABLES,
    create_field_index,
    drop_field_index_if_unused,
)
from tailorcrm.store.tables import CustomField, utcnow

log = logging.getLogger(__name__)

# The external id reported for each entity's rows in a change report.
ROW_ID = {"customer": "customer_id", "item": "item_id", "event": "idempotency_key"}


class FieldRepository(Repository):
    """The tenant's custom-field catalog; values live in each row's ``attributes`` JSON."""

    def list(self, tid: int, entity: str | None = None) -> list[FieldSpec]:
        """The tenant's fields (of one entity, or all), by entity then name."""
        stmt = select(CustomField.spec).where(CustomField.tenant_id == tid)
        if entity is not None:
            stmt = stmt.where(CustomField.entity == entity)
        with self._engine.connect() as conn:
            specs = conn.execute(stmt.order_by(CustomField.entity, CustomField.name)).scalars()
            return [FieldSpec.model_validate(s) for s in specs]

    def get(self, tid: int, entity: str, name: str) -> FieldSpec:
        """One field; NotFoundError if the tenant has none of that name."""
        with self._engine.connect() as conn:
            spec = self._get(conn, tid, entity, name)
        if spec is None:
            raise NotFoundError(f"no {entity} field {name!r}", entity=entity, field=name)
        return spec

    def add(self, tid: int, spec: FieldSpec, *, dry_run: bool = False,
            force: bool = False) -> ChangeReport:
        """Add a field after checking the values already stored under its name.

        Stored values are coerced to the new type (and missing ones get the default). When some
        would break, ConflictError carries the report unless ``force`` (broken values then stay
        as stored). ``dry_run`` only returns the report.
        """
        with self._engine.begin() as conn:
            if self._get(conn, tid, spec.entity, spec.name) is not None:
                raise ConflictError(f"{spec.entity} field {spec.name!r} exists already",
                                    entity=spec.entity, field=spec.name)
            report = self._check_and_apply(conn, tid, spec, "add", dry_run, force)
            if report.applied:
                try:
                    conn.execute(insert(CustomField).values(
                        tenant_id=tid, entity=spec.entity, name=spec.name,
                        spec=spec.model_dump(mode="json")))
                except IntegrityError as exc:
                    raise ConflictError(f"{spec.entity} field {spec.name!r} exists already",
                                        entity=spec.entity, field=spec.name) from exc
                if spec.indexed:
                    create_field_index(conn, spec)
        return report

    def change(self, tid: int, spec: FieldSpec, *, dry_run: bool = False,
               force: bool = False) -> ChangeReport:
        """Replace the spec of field ``spec.entity``/``spec.name`` after checking stored values.

        Returns the report of what the change did (or, with ``dry_run``, would do). When values
        would break, raises ConflictError (``details["report"]``) unless ``force``.
        """
        with self._engine.begin() as conn:
            old = self._get(conn, tid, spec.entity, spec.name)
            if old is None:
                raise NotFoundError(f"no {spec.entity} field {spec.name!r}",
                                    entity=spec.entity, field=spec.name)
            report = self._check_and_apply(conn, tid, spec, "change", dry_run, force)
            if report.applied:
                conn.execute(update(CustomField).where(
                    CustomField.tenant_id == tid, CustomField.entity == spec.entity,
                    CustomField.name == spec.name,
                ).values(spec=spec.model_dump(mode="json"), updated_at=utcnow()))
                if spec.indexed:
                    create_field_index(conn, spec)
                elif old.indexed:
                    drop_field_index_if_unused(conn, spec.entity, spec.name)
        return report

    def remove(self, tid: int, entity: str, name: str, *, purge: bool = False) -> int:
        """Remove a field from the catalog; its values stay unless ``purge``.

        Returns the number of rows whose value was purged (0 without ``purge``).
        """
        with self._engine.begin() as conn:
            if self._get(conn, tid, entity, name) is None:
                raise NotFoundError(f"no {entity} field {name!r}", entity=entity, field=name)
            conn.execute(delete(CustomField).where(
                CustomField.tenant_id == tid, CustomField.entity == entity,
                CustomField.name == name))
            drop_field_index_if_unused(conn, entity, name)
            purged = self._purge(conn, tid, entity, name) if purge else 0
        log.info("removed %s field %s of tenant %d (%d values purged)", entity, name, tid, purged)
        return purged

    # -- internals ------------------------------------------------------------------------
    def _get(self, conn: Connection, tid: int, entity: str, name: str) -> FieldSpec | None:
        if entity not in ENTITIES:
            raise NotFoundError(f"unknown entity {entity!r}; use one of {list(ENTITIES)}")
        raw = conn.execute(select(CustomField.spec).where(
            CustomField.tenant_id == tid, CustomField.entity == entity,
            CustomField.name == name)).scalar_one_or_none()
        return None if raw is None else FieldSpec.model_validate(raw)

    def _check_and_apply(self, conn: Connection, tid: int, spec: FieldSpec, action: str,
                         dry_run: bool, force: bool) -> ChangeReport:
        table = TABLES[spec.entity]
        id_col = table.c[ROW_ID[spec.entity]]
        report = ChangeReport(entity=spec.entity, field=spec.name, action=action)
        query = select(id_col, table.c.attributes).where(table.c.tenant_id == tid)
        if not spec.required and spec.default is None:
            # rows without a value cannot break and need no default: read only the others
            query = query.where(self._has_key(table, spec.name))
        scan = conn.execute(query)
        rows = ((str(rid), (attrs or {}).get(spec.name), spec.name in (attrs or {}))
                for rid, attrs in scan)
        rewrites = list(check_values(spec, rows, report))
        if dry_run:
            return report
        if not report.ok and not force:
            raise ConflictError(report.summary(), report=report.model_dump(mode="json"))
        if rewrites:
            self._set_values(conn, tid, spec.entity, spec.name, rewrites)
        report.applied = True
        log.info("%s", report.summary())
        return report

    def _set_values(self, conn: Connection, tid: int, entity: str, name: str,
                    rewrites: Sequence[tuple[str, Any]]) -> None:
        table = TABLES[entity]
        id_col = table.c[ROW_ID[entity]]
        new_attrs: ColumnElement[Any]
        if self.backend == "postgresql":
            new_attrs = func.jsonb_set(table.c.attributes, literal_column(f"'{{{name}}}'"),
                                       cast(bindparam("v", type_=String), JSONB))
        else:
            new_attrs = func.json_set(table.c.attributes, literal_column(f"'$.{name}'"),
                                      func.json(bindparam("v", type_=String)))
        stmt = update(table).where(table.c.tenant_id == tid, id_col == bindparam("rid")).values(
            attributes=new_attrs)
        conn.execute(stmt, [{"rid": rid, "v": json.dumps(v)} for rid, v in rewrites])

    def _purge(self, conn: Connection, tid: int, entity: str, name: str) -> int:
        table = TABLES[entity]
        new_attrs: ColumnElement[Any]
        if self.backend == "postgresql":
            new_attrs = table.c.attributes.op("-")(literal_column(f"'{name}'"))
        else:
            new_attrs = func.json_remove(table.c.attributes, literal_column(f"'$.{name}'"))
        result = conn.execute(update(table).where(
            table.c.tenant_id == tid, self._has_key(table, name)).values(attributes=new_attrs))
        return int(result.rowcount or 0)

    def _has_key(self, table: Table, name: str) -> ColumnElement[bool]:
        """True for rows whose attributes have a value under ``name``."""
        if self.backend == "postgresql":
            return table.c.attributes.op("?")(literal_column(f"'{name}'"))  # type: ignore[no-any-return]
        return func.json_type(table.c.attributes, literal_column(f"'$.{name}'")).is_not(None)
