"""Custom-field definitions per tenant: types, flags, and coercion of one value to its type."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Entity = Literal["customer", "item", "event"]
ENTITIES: tuple[Entity, ...] = ("customer", "item", "event")

# Names the built-in columns take; a custom field may not shadow them.
RESERVED_NAMES: dict[str, frozenset[str]] = {
    "customer": frozenset({"customer_id", "consent_personalization", "consent_marketing",
                           "consent_profiling", "consent_source", "created_at", "updated_at",
                           "tenant"}),
    "item": frozenset({"item_id", "title", "description", "categories", "price", "available",
                       "created_at", "updated_at", "tenant"}),
    "event": frozenset({"idempotency_key", "customer_id", "item_id", "type", "value",
                        "timestamp", "tenant"}),
}


class FieldType(StrEnum):
    """The value types a custom field can take."""

    STRING = "string"
    INTEGER = "integer"
    NUMBER = "number"
    BOOLEAN = "boolean"
    DATE = "date"
    DATETIME = "datetime"
    ENUM = "enum"
    LIST = "list"  # list of strings
    TEXT = "text"  # free text (TF-IDF when used as a feature)


class FieldSpec(BaseModel):
    """One custom field of one entity of one tenant."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    entity: Entity
    name: str = Field(pattern=r"^[a-z][a-z0-9_]{0,62}$")
    type: FieldType
    required: bool = False
    default: Any = None
    enum_values: tuple[str, ...] = ()
    pii: bool = False
    feature: bool = False
    indexed: bool = False
    description: str = ""

    @field_validator("enum_values", mode="before")
    @classmethod
    def _tuple(cls, v: Any) -> tuple[str, ...]:
        return tuple(str(x) for x in (v or ()))

    @model_validator(mode="after")
    def _check(self) -> FieldSpec:
        if self.name in RESERVED_NAMES[self.entity]:
            raise ValueError(f"{self.name!r} is a built-in {self.entity} field")
        if self.type is FieldType.ENUM and not self.enum_values:
            raise ValueError("an enum field needs enum_values")
        if self.type is not FieldType.ENUM and self.enum_values:
            raise ValueError("enum_values only go with type 'enum'")
        if self.default is not None:
            coerce_value(self, self.default)
        return self


_TRUE = {"true", "t", "yes", "y", "1", "on"}
_FALSE = {"false", "f", "no", "n", "0", "off"}


def is_missing(value: Any) -> bool:
    """True for None, NaN and blank strings."""
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return isinstance(value, str) and value.strip() == ""


MASK = "***"
"""What a pii value reads as for keys that may not see it."""


def pii_feature_policy(specs: Iterable[FieldSpec],
                       allowed: Iterable[str] = ()) -> tuple[FieldSpec, ...]:
    """The specs as models may use them: a ``pii`` field is no feature unless its name is in
    ``allowed`` (the tenant setting ``pii_features_allowed``); its ``feature`` flag is cleared.
    """
    names = frozenset(allowed)
    return tuple(s.model_copy(update={"feature": False})
                 if s.pii and s.feature and s.name not in names else s for s in specs)


def mask_pii(specs: Iterable[FieldSpec], attributes: dict[str, Any]) -> dict[str, Any]:
    """``attributes`` with the value of every ``pii`` field (that has one) read as ``***``."""
    pii = {s.name for s in specs if s.pii}
    return {k: MASK if k in pii and v is not None else v for k, v in attributes.items()}


def describe_value(value: Any) -> str:
    """A value described without its content (for pii fields in messages and logs)."""
    if isinstance(value, str):
        return f"a text of {len(value)} character(s)"
    return f"a value of type {type(value).__name__}"


def coerce_value(spec: FieldSpec, value: Any) -> Any:
    """Coerce one raw value to the field's type, as JSON-storable Python.

    Raises ``ValueError`` with a short reason when the value does not fit. The reason quotes
    the value, except for a ``pii`` field: it is described (type and length), never echoed.
    Missing values become the default (or None); a required field with neither raises.
    """
    try:
        return _coerce(spec, value)
    except (ValueError, TypeError):
        if not spec.pii or is_missing(value):
            raise
        raise ValueError(f"{describe_value(value)} does not fit type {spec.type.value} "
                         f"(pii field: the value is not shown)") from None


def _coerce(spec: FieldSpec, value: Any) -> Any:
    if is_missing(value):
        if spec.default is not None:
            return _coerce(spec.model_copy(update={"default": None}), spec.default)
        if spec.required:
            raise ValueError("required value is missing")
        return None
    t = spec.type
    if isinstance(value, str):
        value = value.strip()
    if t in (FieldType.STRING, FieldType.TEXT):
        return str(value)
    if t is FieldType.INTEGER:
        if isinstance(value, bool):
            raise ValueError(f"{value!r} is not an integer")
        number = float(value)
        if not number.is_integer():
            raise ValueError(f"{value!r} is not an integer")
        return int(number)
    if t is FieldType.NUMBER:
        if isinstance(value, bool):
            raise ValueError(f"{value!r} is not a number")
        number = float(value)
        if not math.isfinite(number):
            raise ValueError(f"{value!r} is not a finite number")
        return number
    if t is FieldType.BOOLEAN:
        if isinstance(value, bool):
            return value
        text = str(value).lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        raise ValueError(f"{value!r} is not a boolean")
    if t is FieldType.DATE:
        if isinstance(value, dt.datetime):
            return value.date().isoformat()
        if isinstance(value, dt.date):
            return value.isoformat()
        return dt.date.fromisoformat(str(value)[:10]).isoformat()
    if t is FieldType.DATETIME:
        if isinstance(value, dt.datetime):
            parsed = value
        else:
            parsed = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=dt.UTC)
        return parsed.astimezone(dt.UTC).isoformat()
    if t is FieldType.ENUM:
        text = str(value)
        if text not in spec.enum_values:
            raise ValueError(f"{text!r} is not one of {list(spec.enum_values)}")
        return text
    if t is FieldType.LIST:
        if isinstance(value, list | tuple):
            return [str(v).strip() for v in value if not is_missing(v)]
        return [part.strip() for part in str(value).split("|") if part.strip()]
    raise ValueError(f"unknown field type {t}")  # pragma: no cover - enum is closed
