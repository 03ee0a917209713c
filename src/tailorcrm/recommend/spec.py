"""One spec type for "a model and its config": :class:`ModelSpec`, validated when parsed."""

from __future__ import annotations

from typing import Any

import pydantic
from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator


class ModelSpec(BaseModel):
    """A model named by its registered ``kind``, a blend ``weight`` and its own ``config``.

    Parsing checks that ``kind`` is a registered model and validates ``config`` against that
    model's config class, so a bad spec fails where it is read (a TOML or JSON file, an API
    body), naming the field, instead of when the model is built. The spec keeps ``config``
    as given (it round-trips unchanged); :meth:`model_config_object` is the validated config.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: str
    weight: float = Field(1.0, ge=0)
    config: dict[str, Any] = Field(default_factory=dict)

    @field_validator("kind")
    @classmethod
    def _registered(cls, kind: str) -> str:
        known = _model_classes()
        if kind not in known:
            raise ValueError(f"unknown model kind {kind!r} (known: {', '.join(sorted(known))})")
        return kind

    @field_validator("config")
    @classmethod
    def _valid_for_kind(cls, config: dict[str, Any], info: ValidationInfo) -> dict[str, Any]:
        kind = info.data.get("kind")
        if kind is None:  # the kind itself failed; its error says so
            return config
        try:
            _model_classes()[kind].config_class.model_validate(config)
        except pydantic.ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'value'}: {e['msg']}"
                for e in exc.errors())
            raise ValueError(f"invalid {kind} config: {problems}") from None
        return config

    def model_config_object(self) -> BaseModel:
        """The config validated by the model's own config class."""
        return _model_classes()[self.kind].config_class.model_validate(self.config)


def _model_classes() -> dict[str, Any]:
    # late: the registry lists every model, and the composites' configs hold ModelSpecs
    from tailorcrm.recommend.registry import model_classes

    return model_classes()
