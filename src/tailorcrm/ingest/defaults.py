"""The mapping used when an import names none: columns named like tailorcrm fields map to them.

Built-in names (``customer_id``, ``item_id``, ``title``, ``type``, ``value``, ``timestamp`` or
``ts``, ...) map to the built-in fields; ``categories`` is split on ``|``; every other column
becomes a custom attribute of the same (normalized) name, typed as the tenant's field of that name
when there is one and as a string otherwise.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from tailorcrm.ingest.mapping import (
    BUILTIN_FIELDS,
    ENTITY_OF,
    AttributeSpec,
    CategoriesSpec,
    EventTypeSpec,
    ImportEntity,
    Mapping,
    SourceSpec,
)
from tailorcrm.ingest.readers import read_chunks
from tailorcrm.schema.fields import RESERVED_NAMES, FieldSpec, FieldType


def _field_name(column: str) -> str | None:
    name = re.sub(r"[^a-z0-9_]+", "_", column.strip().lower()).strip("_")
    if not name or not name[0].isalpha():
        return None
    return name[:63]


def default_mapping(entity: ImportEntity, path: Path, fields: Sequence[FieldSpec]) -> Mapping:
    """A mapping for ``path`` whose columns are named like tailorcrm fields."""
    first = next(iter(read_chunks(path, SourceSpec(), 1)), None)
    columns = [str(c) for c in first.frame.columns] if first is not None else []
    target = ENTITY_OF[entity]
    known = {f.name: f for f in fields if f.entity == target}
    builtin = BUILTIN_FIELDS[entity]
    mapped: dict[str, str] = {}
    attributes: list[AttributeSpec] = []
    event_type: EventTypeSpec | None = None
    categories: CategoriesSpec | None = None
    for column in columns:
        name = _field_name(column)
        if name in builtin:
            mapped[name] = column
        elif entity == "events" and name == "ts":
            mapped["timestamp"] = column
        elif entity == "events" and name == "type":
            event_type = EventTypeSpec(column=column)
        elif entity == "items" and name == "categories":
            categories = CategoriesSpec(column=column)
        elif name and name not in RESERVED_NAMES[target]:
            spec = known.get(name)
            attributes.append(AttributeSpec(
                column=column, field=name, type=spec.type if spec else FieldType.STRING,
                enum_values=spec.enum_values if spec else (),
                feature=spec.feature if spec else False, pii=spec.pii if spec else False))
    if entity == "events" and event_type is None:
        event_type = EventTypeSpec(constant="purchase")
    return Mapping(name=f"default-{entity}", entity=entity, fields=mapped,
                   attributes=tuple(attributes), event_type=event_type, categories=categories,
                   description=f"columns of {path.name} named like tailorcrm fields")
