"""ModelSpec: one spec type for a model and its config, validated when it is parsed."""

from __future__ import annotations

import json

import pydantic
import pytest

from tailorcrm.customize.configs import dump_text, parse_text
from tailorcrm.errors import ConfigError
from tailorcrm.recommend.fallback import FallbackChain, FallbackConfig
from tailorcrm.recommend.hybrid import Hybrid, HybridConfig
from tailorcrm.recommend.popularity import Popularity
from tailorcrm.recommend.registry import build, build_model
from tailorcrm.recommend.spec import ModelSpec


def test_a_bad_config_fails_at_parse_time_naming_the_field() -> None:
    with pytest.raises(pydantic.ValidationError) as err:
        ModelSpec.model_validate({"kind": "ease", "config": {"lam": "lots"}})
    text = str(err.value)
    assert "config" in text and "lam" in text
    with pytest.raises(pydantic.ValidationError, match="no_such_option"):
        ModelSpec(kind="als", config={"no_such_option": 1})


def test_an_unknown_kind_or_a_negative_weight_fails() -> None:
    with pytest.raises(pydantic.ValidationError, match="unknown model kind 'nope'"):
        ModelSpec(kind="nope")
    with pytest.raises(pydantic.ValidationError, match="weight"):
        ModelSpec(kind="popularity", weight=-1.0)
    with pytest.raises(pydantic.ValidationError, match="extra"):
        ModelSpec.model_validate({"kind": "popularity", "wieght": 2})


def test_specs_nested_in_composite_configs_are_checked_too() -> None:
    with pytest.raises(pydantic.ValidationError, match="k: Input should be greater than 0"):
        HybridConfig.model_validate({"components": [
            {"kind": "ease"}, {"kind": "itemknn", "config": {"k": 0}}]})
    with pytest.raises(pydantic.ValidationError, match="components"):
        ModelSpec(kind="fallback", config={"models": [
            {"kind": "hybrid", "config": {"components": [{"kind": "ease", "config": {
                "lam": -5}}]}}]})


def test_frozen_with_defaults() -> None:
    spec = ModelSpec(kind="popularity")
    assert (spec.weight, spec.config) == (1.0, {})
    with pytest.raises(pydantic.ValidationError):
        spec.weight = 2.0  # type: ignore[misc]


@pytest.mark.parametrize("fmt", ["json", "toml"])
def test_round_trip_through_json_and_toml(fmt: str) -> None:
    spec = ModelSpec(kind="hybrid", weight=0.5, config={
        "normalize": "std",
        "components": [{"kind": "ease", "weight": 1.0, "config": {"lam": 200.0}},
                       {"kind": "itemknn", "weight": 0.3, "config": {"k": 50}}]})
    text = dump_text(spec, fmt) if fmt == "toml" else json.dumps(spec.model_dump(mode="json"))
    back = ModelSpec.model_validate(parse_text(text, fmt) if fmt == "toml" else json.loads(text))
    assert back == spec
    assert back.model_config_object() == HybridConfig.model_validate(spec.config)


def test_the_registry_hands_composites_their_built_parts() -> None:
    chain = build(ModelSpec(kind="fallback", config={"models": [
        {"kind": "hybrid", "config": {"components": [{"kind": "ease"}, {"kind": "popularity"}]}},
        {"kind": "popularity"}]}))
    assert isinstance(chain, FallbackChain)
    hybrid = chain.models[0]
    assert isinstance(hybrid, Hybrid) and [m.name for m in hybrid.models] == ["ease",
                                                                              "popularity"]
    assert isinstance(build_model("popularity"), Popularity)


def test_a_composite_needs_its_parts() -> None:
    config = FallbackConfig(models=(ModelSpec(kind="popularity"),))
    with pytest.raises(ConfigError, match="built parts"):
        FallbackChain(config)
    with pytest.raises(ConfigError, match="names parts"):
        FallbackChain(config, parts=[build_model("ease")])
    assert FallbackChain(config, parts=[Popularity()]).models[0].name == "popularity"
