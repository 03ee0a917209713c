"""Mapping files: how the columns of a source file become tailorcrm customers, items or events.

A mapping is TOML validated by the pydantic models below (``extra="forbid"``: a misspelt key is
an error, not a silently ignored option). See ``docs/ingest.md`` for the format.
"""

from __future__ import annotations

import tomllib
from importlib import resources
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic import ValidationError as PydanticValidationError

from tailorcrm.errors import ConfigError
from tailorcrm.ingest.expr import referenced_columns
from tailorcrm.schema.fields import Entity, FieldSpec, FieldType

ImportEntity = Literal["customers", "items", "events"]
ENTITY_OF: dict[str, Entity] = {"customers": "customer", "items": "item", "events": "event"}

# The built-in fields each entity's `[fields]` table may map.
BUILTIN_FIELDS: dict[str, frozenset[str]] = {
    "customers": frozenset({"customer_id", "consent_personalization", "consent_marketing",
                            "consent_profiling"}),
    "items": frozenset({"item_id", "title", "description", "price", "available"}),
    "events": frozenset({"idempotency_key", "customer_id", "item_id", "value", "timestamp"}),
}


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SourceSpec(_Model):
    """How to read the file."""

    format: Literal["auto", "csv", "jsonl", "parquet"] = "auto"
    delimiter: str = Field(",", min_length=1, max_length=1)
    quoting: bool = True
    multiline: bool = False
    header: bool = True
    columns: tuple[str, ...] = ()
    encoding: str = "utf-8"
    null_values: tuple[str, ...] = ("",)

    @model_validator(mode="after")
    def _names(self) -> SourceSpec:
        if not self.header and not self.columns:
            raise ValueError("a source without a header needs `columns`")
        if self.multiline and not self.quoting:
            raise ValueError("multiline values need quoting = true")
        if len(set(self.columns)) != len(self.columns):
            raise ValueError("source `columns` must be distinct")
        return self


class JoinSpec(_Model):
    """Another file joined into the rows by key (see ``ingest/joins.py``).

    ``file`` is read whole, as a lookup table keyed by its ``key`` column (default: the same
    name as ``on``); each row gains its columns (``prefix`` + name, without the ``drop`` ones)
    where the row's ``on`` value equals the key. With ``required`` (the default), a row whose
    key matches no row of the file is rejected; otherwise its joined columns are missing. A
    key that appears twice in the joined file rejects the rows that use it.
    """

    file: str = Field(min_length=1)
    on: str = Field(min_length=1)
    key: str = ""
    required: bool = True
    prefix: str = ""
    drop: tuple[str, ...] = ()
    source: SourceSpec = SourceSpec()

    @model_validator(mode="before")
    @classmethod
    def _key_defaults_to_on(cls, data: object) -> object:
        if isinstance(data, dict) and not data.get("key") and data.get("on"):
            return {**data, "key": data["on"]}
        return data

    def path_from(self, base: Path) -> Path:
        """The joined file's path (relative paths start from the main file's folder)."""
        path = Path(self.file)
        return path if path.is_absolute() else base / path


class AttributeSpec(_Model):
    """A source column stored as a custom attribute (a tenant custom field)."""

    column: str
    field: str = Field(pattern=r"^[a-z][a-z0-9_]{0,62}$")
    type: FieldType = FieldType.STRING
    required: bool = False
    enum_values: tuple[str, ...] = ()
    pii: bool = False
    feature: bool = False
    indexed: bool = False
    description: str = ""
    format: str | None = None
    map: dict[str, str | int | float | bool] = Field(default_factory=dict)

    def field_spec(self, entity: Entity) -> FieldSpec:
        """The custom field this attribute needs."""
        return FieldSpec(entity=entity, name=self.field, type=self.type, required=self.required,
                         enum_values=self.enum_values, pii=self.pii, feature=self.feature,
                         indexed=self.indexed, description=self.description)


class CategoriesSpec(_Model):
    """Item categories from one separated column and/or from 0/1 flag columns."""

    column: str | None = None
    separator: str = "|"
    flags: tuple[str, ...] = ()


class EventTypeSpec(_Model):
    """The event type: a constant, or a source column mapped through ``map``."""

    constant: str | None = None
    column: str | None = None
    map: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _one(self) -> EventTypeSpec:
        if (self.constant is None) == (self.column is None):
            raise ValueError("event_type needs exactly one of `constant` and `column`")
        return self


class ReturnsSpec(_Model):
    """Cancellations/returns: rows matching either rule get ``type`` and positive values."""

    type: str = "return"
    prefix_column: str | None = None
    prefix: str = "C"
    negative_column: str | None = None
    absolute: tuple[str, ...] = ("value",)


class CreateSpec(_Model):
    """What an events import creates for the customers and items its rows reference.

    Both default to true, as the API does (a tenant's ``unknown_references = "reject"``
    setting is the API's way to refuse instead): events of customers and items not yet
    imported then reach cold-start results at once. Erased customers are never created.
    """

    customers: bool = True
    items: bool = True
    customer_attributes: tuple[AttributeSpec, ...] = ()
    item_title: str | None = None
    item_price: str | None = None


class Mapping(_Model):
    """One mapping file."""

    name: str
    description: str = ""
    entity: ImportEntity
    source: SourceSpec = SourceSpec()
    joins: tuple[JoinSpec, ...] = ()
    fields: dict[str, str] = Field(default_factory=dict)
    constants: dict[str, str | int | float | bool] = Field(default_factory=dict)
    derive: dict[str, str] = Field(default_factory=dict)
    attributes: tuple[AttributeSpec, ...] = ()
    categories: CategoriesSpec | None = None
    event_type: EventTypeSpec | None = None
    returns: ReturnsSpec | None = None
    create: CreateSpec = CreateSpec()
    timestamp_format: str | None = None
    timezone: str = "UTC"
    future_tolerance_hours: float = Field(24.0, ge=0)
    missing_customer: Literal["anonymous", "reject"] = "reject"
    anonymous_id: str = "anonymous"
    anonymous_key: str | None = None
    keep_identical_rows: bool = False

    @model_validator(mode="after")
    def _check(self) -> Mapping:
        allowed = BUILTIN_FIELDS[self.entity]
        unknown = (set(self.fields) | set(self.constants)) - allowed
        if unknown:
            raise ValueError(f"{self.entity} mappings take fields {sorted(allowed)}, "
                             f"not {sorted(unknown)}")
        id_field = {"customers": "customer_id", "items": "item_id", "events": "customer_id"}
        if id_field[self.entity] not in self.fields:
            raise ValueError(f"`fields.{id_field[self.entity]}` is required")
        if self.entity == "events":
            if self.event_type is None:
                raise ValueError("an events mapping needs `[event_type]`")
            if "timestamp" not in self.fields and "timestamp" not in self.constants:
                raise ValueError("`fields.timestamp` (or `constants.timestamp`, one time for "
                                 "every row of a file without times) is required for events")
        elif self.event_type or self.returns or self.create != CreateSpec():
            raise ValueError("event_type, returns and create only apply to events")
        if self.categories is not None and self.entity != "items":
            raise ValueError("categories only apply to items")
        names = [a.field for a in self.attributes]
        if len(set(names)) != len(names):
            raise ValueError("attribute field names must be distinct")
        for name, expr in self.derive.items():
            referenced_columns(expr)  # raises ValueError on anything but arithmetic
            if name in self.source.columns:
                raise ValueError(f"derived column {name!r} shadows a source column")
        return self

    @property
    def target_entity(self) -> Entity:
        """The custom-field entity of this mapping's rows."""
        return ENTITY_OF[self.entity]

    def field_specs(self) -> list[FieldSpec]:
        """Every custom field this mapping declares (created on import when missing)."""
        specs = [a.field_spec(self.target_entity) for a in self.attributes]
        specs += [a.field_spec("customer") for a in self.create.customer_attributes]
        return specs


def shipped_mappings() -> list[str]:
    """Names of the mappings shipped in ``tailorcrm/mappings``."""
    folder = resources.files("tailorcrm") / "mappings"
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".toml"))


def load_mapping(name_or_path: str | Path) -> Mapping:
    """Load a mapping from a TOML path or by the name of a shipped mapping.

    Raises
    ------
    ConfigError
        The file does not exist, is not TOML, or does not validate.
    """
    path = Path(name_or_path)
    if path.is_file():
        text = path.read_text(encoding="utf-8")
    else:
        resource = resources.files("tailorcrm") / "mappings" / f"{name_or_path}.toml"
        if not resource.is_file():
            raise ConfigError(f"no mapping file {str(name_or_path)!r} and no shipped mapping of "
                              f"that name (shipped: {', '.join(shipped_mappings())})")
        text = resource.read_text(encoding="utf-8")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"mapping {str(name_or_path)!r} is not valid TOML: {exc}") from exc
    data.setdefault("name", path.stem)
    try:
        return Mapping.model_validate(data)
    except PydanticValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'mapping'}: {e['msg']}"
                             for e in exc.errors())
        raise ConfigError(f"mapping {str(name_or_path)!r} is invalid: {problems}",
                          errors=exc.errors(include_url=False)) from exc
