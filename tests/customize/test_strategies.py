"""Strategies: config round trips (TOML/JSON), checks, the recommender they build, versions."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from tailorcrm.customize.configs import format_of, read_file
from tailorcrm.customize.rules import FilterRule, RuleSet, save_ruleset
from tailorcrm.customize.strategies import (
    Strategy,
    load_strategy,
    resolve_rules,
    save_strategy,
    strategy_to_recommender,
)
from tailorcrm.errors import ConfigError, NotFoundError, RuleError
from tailorcrm.recommend.fallback import FallbackChain
from tailorcrm.recommend.hybrid import Hybrid
from tailorcrm.store import Store

HOMEPAGE = {
    "name": "homepage",
    "description": "Blend of item-kNN and popularity, two per category.",
    "models": [{"kind": "itemknn", "weight": 1.0, "config": {"k": 50}},
               {"kind": "popularity", "weight": 0.3}],
    "fallback": [{"kind": "popularity", "config": {"half_life_days": 30.0}}],
    "rules": {"filters": [{"name": "stock", "expression": "item.available"}],
              "boosters": [{"name": "pref", "when": "item.category == 'A'", "factor": 1.5}]},
    "diversity": {"max_per_group": 2},
    "exclusions": {"repurchasable_categories": ["consumables"]},
    "count": 8,
}


@pytest.mark.parametrize("fmt", ["toml", "json"])
def test_text_round_trip(fmt: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    strategy = Strategy.model_validate(HOMEPAGE)
    text = strategy.to_text(fmt)  # type: ignore[arg-type]
    assert Strategy.from_text(text, fmt) == strategy  # type: ignore[arg-type]
    path = tmp_path / f"homepage.{fmt}"
    path.write_text(text)
    assert format_of(path) == fmt
    assert Strategy.model_validate(read_file(path)) == strategy


def test_named_rules_round_trip_too() -> None:
    strategy = Strategy.model_validate({**HOMEPAGE, "rules": "shop-rules"})
    assert Strategy.from_text(strategy.to_text("toml"), "toml").rules == "shop-rules"


def test_schema_is_strict() -> None:
    with pytest.raises(ValidationError):
        Strategy.model_validate({**HOMEPAGE, "extra_key": 1})
    # no models: the strategy serves the tenant's trained recommender
    assert Strategy.model_validate({**HOMEPAGE, "models": []}).uses_tenant_model
    with pytest.raises(ValidationError):
        Strategy.model_validate({**HOMEPAGE, "diversity": {"max_per_group": 0}})
    with pytest.raises(ValidationError):
        Strategy.model_validate({**HOMEPAGE, "models": [{"kind": "itemknn", "weight": 0}]})


def test_broken_files_say_where() -> None:
    from tailorcrm.customize.configs import parse_text

    with pytest.raises(ConfigError) as info:
        parse_text('{"name": "x",\n "models": [}', "json")
    assert info.value.details["line"] == 2
    with pytest.raises(ConfigError):
        parse_text("name = ", "toml")


def test_builds_hybrid_inside_fallback_chain() -> None:
    model = strategy_to_recommender(Strategy.model_validate(HOMEPAGE))
    assert isinstance(model, FallbackChain)
    assert isinstance(model.models[0], Hybrid)
    assert [m.name for m in model.models] == ["hybrid", "popularity"]
    assert model.models[1].config.half_life_days == 30.0  # type: ignore[attr-defined]
    single = strategy_to_recommender(Strategy.model_validate(
        {"name": "x", "models": [{"kind": "ease"}], "fallback": []}))
    assert single.name == "ease"


def test_unknown_model_kind_and_bad_rules_are_refused() -> None:
    with pytest.raises(ValidationError, match="deep-magic"):  # refused when parsed
        Strategy.model_validate({**HOMEPAGE, "models": [{"kind": "deep-magic"}]})
    with pytest.raises(ValidationError, match="lam"):  # a model's config is checked too
        Strategy.model_validate({**HOMEPAGE, "models": [{"kind": "ease",
                                                         "config": {"lam": "lots"}}]})
    bad = {**HOMEPAGE, "rules": {"filters": [{"name": "x", "expression": "item.price >"}]}}
    with pytest.raises(RuleError):
        strategy_to_recommender(Strategy.model_validate(bad))


def test_stored_and_versioned_with_named_rules(database_url: str) -> None:
    with Store.open(database_url) as store:
        tid = store.tenants.ensure("shop")
        named = Strategy.model_validate({**HOMEPAGE, "rules": "shop-rules"})
        with pytest.raises(NotFoundError):
            save_strategy(store.configs, tid, named)  # names rules that do not exist yet
        rules = RuleSet(filters=(FilterRule(name="cheap", expression="item.price < 50.0"),))
        save_ruleset(store.configs, tid, "shop-rules", rules)
        assert save_strategy(store.configs, tid, named) == 1
        changed = named.model_copy(update={"count": 20})
        assert save_strategy(store.configs, tid, changed) == 2
        assert load_strategy(store.configs, tid, "homepage").count == 20
        assert load_strategy(store.configs, tid, "homepage", version=1) == named
        assert resolve_rules(load_strategy(store.configs, tid, "homepage"),
                             store.configs, tid) == rules
        assert [c.name for c in store.configs.list(tid, "strategy")] == ["homepage"]
        with pytest.raises(ConfigError):
            resolve_rules(named)


@pytest.mark.parametrize("name", ["homepage", "cross-sell", "service-follow-up"])
def test_templates_round_trip_and_serve(name: str) -> None:
    from customize_planted import planted_dataset

    from tailorcrm.customize.pipeline import Pipeline
    from tailorcrm.customize.templates import template

    strategy = template(name)
    assert Strategy.from_text(strategy.to_text("toml"), "toml") == strategy
    data = planted_dataset()
    pipeline = Pipeline.build(strategy, strategy_to_recommender(strategy).fit(data), data)
    context = {"basket_categories": ["A"]} if name == "cross-sell" else {}
    result = pipeline.recommend("c2", extra={"context": context, "needs": {"upgrade": 0.5}})
    assert 0 < len(result.items) <= strategy.count
    assert result.rule_stats.errors == 0
    if name == "cross-sell":  # the basket's category is left out
        assert all(int(c.item_id[1:]) > 5 for c in result.items)


def test_unknown_template() -> None:
    from tailorcrm.customize.templates import template

    with pytest.raises(NotFoundError):
        template("nope")
