"""Row validation before a write: custom-field values against their specs, errors by row."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from tailorcrm.errors import ValidationError
from tailorcrm.schema.fields import FieldSpec, coerce_value

MAX_REPORTED_ERRORS = 50


class RowErrors:
    """Collects ``(row, id, field, reason)`` problems of a batch; raises them all at once."""

    def __init__(self, entity: str) -> None:
        self.entity = entity
        self.errors: list[dict[str, Any]] = []
        self.count = 0

    def add(self, row: int, row_id: Any, field: str, reason: str) -> None:
        """Record one problem (row is the 0-based position in the batch)."""
        self.count += 1
        if len(self.errors) < MAX_REPORTED_ERRORS:
            self.errors.append({"row": row, "id": row_id, "field": field, "reason": reason})

    def raise_if_any(self) -> None:
        """Raise one ValidationError naming the first problem and carrying all of them."""
        if not self.count:
            return
        first = self.errors[0]
        raise ValidationError(
            f"{self.count} invalid {self.entity} value(s); first: row {first['row']} "
            f"({first['id']!r}), field {first['field']!r}: {first['reason']}",
            entity=self.entity, errors=self.errors, n_errors=self.count)


def validate_attributes(
    specs: Mapping[str, FieldSpec],
    given: Mapping[str, Any],
    *,
    row: int,
    row_id: Any,
    errors: RowErrors,
    new_row: bool,
) -> dict[str, Any]:
    """Coerce the custom-field values of one row; problems go to ``errors``.

    Keys in ``given`` must be declared fields. For a new row, declared fields absent from
    ``given`` get their default, and a required one without a default is an error; an update
    only touches the keys it gives (``None`` clears a value).
    """
    out: dict[str, Any] = {}
    for key, value in given.items():
        spec = specs.get(key)
        if spec is None:
            errors.add(row, row_id, key,
                       "unknown field (add it with `tailorcrm schema fields add`)")
            continue
        try:
            out[key] = coerce_value(spec, value)
        except (ValueError, TypeError) as exc:
            errors.add(row, row_id, key, str(exc))
    if new_row:
        for name, spec in specs.items():
            if name in given:
                continue
            try:
                value = coerce_value(spec, None)
            except ValueError as exc:
                errors.add(row, row_id, name, str(exc))
                continue
            if value is not None:
                out[name] = value
    return out


def split_row(row: Mapping[str, Any], builtin: Sequence[str]) -> tuple[dict[str, Any],
                                                                        dict[str, Any]]:
    """Separate a row's built-in columns from its custom attributes.

    Custom values may be given under ``attributes`` (a mapping) and/or as top-level keys.
    """
    base = {k: v for k, v in row.items() if k in builtin}
    attrs = dict(row.get("attributes") or {})
    attrs.update({k: v for k, v in row.items() if k not in builtin and k != "attributes"})
    return base, attrs


def merge_attributes(old: Mapping[str, Any] | None, new: Mapping[str, Any]) -> dict[str, Any]:
    """Stored attributes updated by ``new``; a ``None`` value removes the key."""
    merged = dict(old or {})
    for key, value in new.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    return merged
