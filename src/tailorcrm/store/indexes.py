"""Expression indexes on custom-field values: ``json_extract`` (SQLite), ``->>`` (PostgreSQL).

An indexed custom field gets one index per (table, field name), shared by the tenants that use
that name: ``(tenant_id, <value expression>)``. Filters must use :func:`attribute_expr`, which
renders the very expression the index is built on, so both planners can use it.
"""

from __future__ import annotations

import hashlib
import logging

from sqlalchemy import Column, Connection, Table, literal_column, select, text
from sqlalchemy.sql.elements import ColumnElement

from tailorcrm.schema.fields import FieldSpec
from tailorcrm.store.tables import Base, Customer, CustomField, Event, Item

log = logging.getLogger(__name__)

TABLES: dict[str, Table] = {
    "customer": Base.metadata.tables[Customer.__tablename__],
    "item": Base.metadata.tables[Item.__tablename__],
    "event": Base.metadata.tables[Event.__tablename__],
}
INDEX_PREFIX = "ix_cf_"


def index_name(entity: str, field: str) -> str:
    """The index name of one field (at most 63 characters, PostgreSQL's limit)."""
    name = f"{INDEX_PREFIX}{TABLES[entity].name}_{field}"
    if len(name) > 63:
        name = name[:54] + "_" + hashlib.sha1(name.encode()).hexdigest()[:8]
    return name


def _sql_expr(dialect: str, field: str) -> str:
    # field names match ^[a-z][a-z0-9_]*$ (FieldSpec), so embedding them as literals is safe,
    # and literals (not bound parameters) are what lets the planner match the index.
    if dialect == "postgresql":
        return f"(attributes ->> '{field}')"
    return f"json_extract(attributes, '$.{field}')"


def attribute_expr(dialect: str, column: Column[object] | ColumnElement[object],
                   field: str) -> ColumnElement[object]:
    """The SQL value of custom field ``field`` in ``column``, as the index expression has it.

    On SQLite the value keeps its JSON type (text, integer, real); on PostgreSQL it is text.
    """
    if dialect == "postgresql":
        return column.op("->>")(literal_column(f"'{field}'"))  # type: ignore[no-any-return]
    from sqlalchemy import func

    return func.json_extract(column, literal_column(f"'$.{field}'"))  # type: ignore[no-any-return]


def create_field_index(conn: Connection, spec: FieldSpec) -> str:
    """Create the expression index of ``spec`` if it does not exist; returns its name."""
    name = index_name(spec.entity, spec.name)
    table = TABLES[spec.entity].name
    expr = _sql_expr(conn.dialect.name, spec.name)
    conn.execute(text(f'CREATE INDEX IF NOT EXISTS "{name}" ON {table} (tenant_id, {expr})'))
    log.info("expression index %s on %s", name, table)
    return name


def drop_field_index_if_unused(conn: Connection, entity: str, field: str) -> bool:
    """Drop the field's index when no tenant still has an indexed field of that name."""
    rows = conn.execute(select(CustomField.spec).where(
        CustomField.entity == entity, CustomField.name == field)).scalars().all()
    if any(spec.get("indexed") for spec in rows):
        return False
    conn.execute(text(f'DROP INDEX IF EXISTS "{index_name(entity, field)}"'))
    return True


def field_indexes(conn: Connection, entity: str) -> list[str]:
    """Names of the custom-field expression indexes present on the entity's table."""
    # SQLAlchemy's inspector skips expression indexes on SQLite, so ask the catalogs directly.
    if conn.dialect.name == "postgresql":
        query = "SELECT indexname FROM pg_indexes WHERE tablename = :t"
    else:
        query = "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = :t"
    names = conn.execute(text(query), {"t": TABLES[entity].name}).scalars()
    return sorted(n for n in names if n and n.startswith(INDEX_PREFIX))
