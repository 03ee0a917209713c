"""Typed config documents: TOML/JSON files in and out, versioned storage via ``store.configs``."""

from __future__ import annotations

import json
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, Protocol, TypeVar

import tomli_w
from pydantic import BaseModel

from tailorcrm.errors import ConfigError

M = TypeVar("M", bound=BaseModel)
Format = Literal["toml", "json"]

RULES_KIND = "rules"
STRATEGY_KIND = "strategy"
ACTIONS_KIND = "actions"


class ConfigStore(Protocol):
    """What this module needs of ``Store.configs`` (put / get / versions / list)."""

    def put(self, tid: int, kind: str, name: str, body: Mapping[str, Any]) -> int: ...

    def get(self, tid: int, kind: str, name: str,
            version: int | None = None) -> dict[str, Any]: ...

    def versions(self, tid: int, kind: str, name: str) -> list[int]: ...


def format_of(path: str | Path) -> Format:
    """``toml`` or ``json`` from the file suffix."""
    suffix = Path(path).suffix.lower()
    if suffix == ".toml":
        return "toml"
    if suffix == ".json":
        return "json"
    raise ConfigError(f"{path}: use a .toml or .json file", path=str(path))


def parse_text(text: str, fmt: Format, *, source: str = "<text>") -> dict[str, Any]:
    """The mapping in a TOML or JSON document (ConfigError with the position if it is broken)."""
    try:
        body = tomllib.loads(text) if fmt == "toml" else json.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: invalid TOML: {exc}", path=source) from exc
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{source}: invalid JSON at line {exc.lineno}, column {exc.colno}: "
                          f"{exc.msg}", path=source, line=exc.lineno, column=exc.colno) from exc
    if not isinstance(body, dict):
        raise ConfigError(f"{source}: the document must be a table/object", path=source)
    return body


def read_file(path: str | Path) -> dict[str, Any]:
    """Read a ``.toml`` or ``.json`` config file."""
    file = Path(path)
    fmt = format_of(file)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read {file}: {exc.strerror}", path=str(file)) from exc
    return parse_text(text, fmt, source=str(file))


def body_of(model: BaseModel) -> dict[str, Any]:
    """The JSON-ready body of a config (``None`` values dropped: TOML has no null)."""
    return model.model_dump(mode="json", exclude_none=True)


def dump_text(model: BaseModel, fmt: Format) -> str:
    """A config as TOML or JSON text that :func:`parse_text` reads back to the same model."""
    body = body_of(model)
    if fmt == "toml":
        return tomli_w.dumps(body)
    return json.dumps(body, indent=2, sort_keys=False) + "\n"


def put_config(configs: ConfigStore, tid: int, kind: str, name: str, model: BaseModel) -> int:
    """Store a validated config as the next version; returns the version number."""
    return configs.put(tid, kind, name, body_of(model))


def get_config(configs: ConfigStore, tid: int, kind: str, name: str, cls: type[M],
               version: int | None = None) -> M:
    """A stored config parsed as ``cls`` (NotFoundError when absent)."""
    return cls.model_validate(configs.get(tid, kind, name, version))
