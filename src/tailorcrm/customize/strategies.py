"""Named recommendation strategies as config: model blend, fallback chain, rules, diversity.

A :class:`Strategy` ("homepage", "cross-sell", "service-follow-up", ...) is config as data: it
round-trips through TOML and JSON, is stored per tenant and versioned (kind ``strategy``), and
builds an ordinary :class:`~tailorcrm.recommend.base.Recommender` with
:func:`strategy_to_recommender` (a hybrid of its models wrapped in its fallback chain), which
the evaluation engine can fit and score like any model. Serving composes the rest (exclusions,
rules, diversity, top-N) in :mod:`tailorcrm.customize.pipeline`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from tailorcrm.customize.configs import (
    STRATEGY_KIND,
    ConfigStore,
    Format,
    dump_text,
    get_config,
    parse_text,
    put_config,
)
from tailorcrm.customize.rules import RULE_NAME, RuleSet, load_ruleset
from tailorcrm.errors import ConfigError
from tailorcrm.recommend.base import Recommender
from tailorcrm.recommend.spec import ModelSpec

Normalization = Literal["zscore", "minmax", "std", "none"]


class Diversity(BaseModel):
    """At most ``max_per_group`` items sharing the same ``field`` value (e.g. category)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_per_group: int | None = Field(None, ge=1)
    field: str = "category"


class Exclusions(BaseModel):
    """Which items never appear: bought (unless repurchasable), unavailable, rejected.

    ``bought`` None: as the tenant's model choice decided for a strategy on the tenant's model
    (buying again may win there), excluded for a strategy with models of its own.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    bought: bool | None = None
    unavailable: bool = True
    rejected: bool = True
    bought_types: tuple[str, ...] = ("purchase",)
    rejected_types: tuple[str, ...] = ("reject",)
    repurchasable_categories: tuple[str, ...] = ()


class Strategy(BaseModel):
    """A named way to recommend.

    Attributes
    ----------
    models:
        The blend: one model, or several whose normalized scores are weighted. Empty: the
        tenant's own recommender, the one training chose on the tenant's validation data
        (what the shipped ``default`` strategy serves).
    fallback:
        Models asked in turn when the blend cannot score a customer (cold start, consent
        denied); popularity by default.
    rules:
        An inline :class:`RuleSet`, or the name of a stored one (resolved at serving).
    diversity, exclusions, count:
        The re-ranking cap, what is never shown, and how many items to return.
    pool:
        How many of the best-scored items go through rules and diversity before the cut.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=RULE_NAME)
    description: str = ""
    models: tuple[ModelSpec, ...] = ()
    normalize: Normalization = "zscore"
    fallback: tuple[ModelSpec, ...] = (ModelSpec(kind="popularity"),)
    rules: RuleSet | str | None = None
    diversity: Diversity = Diversity()
    exclusions: Exclusions = Exclusions()
    count: int = Field(10, ge=1, le=1000)
    pool: int = Field(200, ge=1)

    @model_validator(mode="after")
    def _checks(self) -> Strategy:
        if isinstance(self.rules, str) and not self.rules:
            raise ValueError("rules: give a rule-set name or an inline rule set")
        if self.models and all(m.weight == 0 for m in self.models):
            raise ValueError("models: at least one weight must be > 0")
        return self

    @property
    def is_shipped_default(self) -> bool:
        """True for the shipped default strategy (the tenant's model exactly as trained)."""
        return self == SHIPPED_DEFAULT

    @property
    def uses_tenant_model(self) -> bool:
        """True when the strategy serves the tenant's trained recommender."""
        return not self.models

    # -- text round trip --------------------------------------------------------------------
    def to_text(self, fmt: Format = "toml") -> str:
        """TOML or JSON that :meth:`from_text` reads back to an equal strategy."""
        return dump_text(self, fmt)

    @classmethod
    def from_text(cls, text: str, fmt: Format = "toml") -> Strategy:
        return cls.model_validate(parse_text(text, fmt))


DEFAULT_STRATEGY = "default"
#: The strategy every tenant has: its chosen recommender, its repeat policy, no rules. A tenant
#: overrides it by storing a strategy named ``default`` (rules, diversity, exclusions, count);
#: with ``models`` left empty that override still serves the tenant's chosen model.
SHIPPED_DEFAULT = Strategy(name=DEFAULT_STRATEGY,
                           description="the model chosen on the tenant's own validation data",
                           fallback=())


def _known_kinds() -> set[str]:
    from tailorcrm.recommend.registry import model_classes

    return set(model_classes())


def check_strategy(strategy: Strategy) -> Strategy:
    """Model kinds exist in the registry and inline rules compile (ConfigError / RuleError)."""
    known = _known_kinds()
    for ref in (*strategy.models, *strategy.fallback):
        if ref.kind not in known:
            raise ConfigError(f"strategy {strategy.name!r}: unknown model kind {ref.kind!r}",
                              known=sorted(known))
    if isinstance(strategy.rules, RuleSet):
        strategy.rules.compile()
    return strategy


def strategy_to_recommender(strategy: Strategy) -> Recommender:
    """An unfitted recommender for the strategy's scores: blend, then fallback chain.

    One model with no fallback is that model; several are a
    :class:`~tailorcrm.recommend.hybrid.Hybrid`; a non-empty ``fallback`` wraps the result
    in a :class:`~tailorcrm.recommend.fallback.FallbackChain`. Exclusions, rules and
    diversity are list-level and applied by :mod:`tailorcrm.customize.pipeline`.
    """
    from tailorcrm.recommend.fallback import FallbackChain
    from tailorcrm.recommend.registry import build_model

    check_strategy(strategy)
    if strategy.uses_tenant_model:
        raise ConfigError(f"strategy {strategy.name!r} serves the tenant's trained "
                          "recommender; it has no models of its own to build")
    active = [m for m in strategy.models if m.weight > 0]
    primary: Recommender
    if len(active) == 1:
        primary = build_model(active[0].kind, active[0].config)
    else:
        primary = build_model("hybrid", {
            "components": [{"kind": m.kind, "weight": m.weight, "config": m.config}
                           for m in active], "normalize": strategy.normalize})
    if not strategy.fallback:
        return primary
    chain = [primary] + [build_model(m.kind, m.config) for m in strategy.fallback]
    return FallbackChain.of(chain)


def resolve_rules(strategy: Strategy, configs: ConfigStore | None = None,
                  tid: int | None = None) -> RuleSet:
    """The strategy's rules: inline, loaded by name from the store, or none."""
    if strategy.rules is None:
        return RuleSet()
    if isinstance(strategy.rules, RuleSet):
        return strategy.rules
    if configs is None or tid is None:
        raise ConfigError(f"strategy {strategy.name!r} names stored rules "
                          f"{strategy.rules!r}; a store is needed to resolve them")
    return load_ruleset(configs, tid, strategy.rules)


def save_strategy(configs: ConfigStore, tid: int, strategy: Strategy | Mapping[str, Any]
                  ) -> int:
    """Check and store a strategy under its name as the next version."""
    checked = check_strategy(strategy if isinstance(strategy, Strategy)
                             else Strategy.model_validate(strategy))
    if isinstance(checked.rules, str):
        load_ruleset(configs, tid, checked.rules)  # NotFoundError if it names nothing
    return put_config(configs, tid, STRATEGY_KIND, checked.name, checked)


def load_strategy(configs: ConfigStore, tid: int, name: str,
                  version: int | None = None) -> Strategy:
    """A stored strategy (newest version by default); ``default`` is the shipped default
    unless the tenant stored its own (NotFoundError for any other unknown name)."""
    if name == DEFAULT_STRATEGY and version is None and \
            not configs.versions(tid, STRATEGY_KIND, name):
        return SHIPPED_DEFAULT
    return get_config(configs, tid, STRATEGY_KIND, name, Strategy, version)
