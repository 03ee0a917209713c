"""Items of a tenant (products, services, content): upsert, get, delete, filtered lists."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from sqlalchemy import select

from tailorcrm.schema.fields import FieldSpec, FieldType, coerce_value, is_missing
from tailorcrm.store.entity import EntityRepository
from tailorcrm.store.indexes import TABLES
from tailorcrm.store.records import ItemRecord
from tailorcrm.store.validation import RowErrors

# Built-in item columns validated with the same coercion as custom fields.
_AVAILABLE = FieldSpec(entity="customer", name="available_", type=FieldType.BOOLEAN)
_CATEGORIES = FieldSpec(entity="customer", name="categories_", type=FieldType.LIST)


class ItemRepository(EntityRepository[ItemRecord]):
    """Items, known by the tenant's ``item_id``."""

    entity = "item"
    table = TABLES["item"]
    id_column = "item_id"
    builtin = ("title", "description", "categories", "price", "available")
    record = ItemRecord

    def _builtin_values(self, given: dict[str, Any], old: Mapping[str, Any] | None, row: int,
                        row_id: str, errors: RowErrors) -> dict[str, Any]:
        out: dict[str, Any] = {}
        new = old is None
        for col in ("title", "description"):
            if col in given or new:
                value = given.get(col)
                out[col] = "" if is_missing(value) else str(value).strip()
        if "categories" in given or new:
            out["categories"] = coerce_value(_CATEGORIES, given.get("categories")) or []
        if "price" in given or new:
            price = given.get("price")
            try:
                out["price"] = None if price is None or is_missing(price) else float(price)
                if out["price"] is not None and not math.isfinite(out["price"]):
                    raise ValueError(f"{price!r} is not a finite number")
            except (TypeError, ValueError) as exc:
                errors.add(row, row_id, "price", str(exc))
        if "available" in given or new:
            try:
                available = coerce_value(_AVAILABLE, given.get("available"))
                out["available"] = True if available is None else available
            except ValueError as exc:
                errors.add(row, row_id, "available", str(exc))
        return out

    def catalog(self, tid: int) -> tuple[set[str], set[str]]:
        """The tenant's item ids and the categories they carry (no attributes read)."""
        table = self.table
        with self._engine.connect() as conn:
            rows = conn.execute(select(table.c.item_id, table.c.categories).where(
                table.c.tenant_id == tid)).all()
        ids = {str(r.item_id) for r in rows}
        cats = {str(c) for r in rows if isinstance(r.categories, list) for c in r.categories}
        return ids, cats
