"""Business-rule configs: CEL filters and boosters, validated, compiled once, stored per tenant.

A :class:`RuleSet` is config as data (stored per tenant, versioned, overridable per request);
:func:`tailorcrm.customize.rule_engine.apply_rules` runs it on scored candidates.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from tailorcrm.customize.cel import CompiledExpression, compile_expression
from tailorcrm.customize.configs import RULES_KIND, ConfigStore, get_config, put_config
from tailorcrm.errors import RuleError

log = logging.getLogger(__name__)

RULE_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$"


class FilterRule(BaseModel):
    """Keep an item only when ``expression`` is true."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=RULE_NAME)
    expression: str
    on_error: Literal["exclude", "keep"] = "exclude"
    description: str = ""


class BoostRule(BaseModel):
    """Multiply an item's score by ``factor`` when ``when`` is true.

    ``factor`` is a number, or a CEL expression yielding a positive number (e.g.
    ``needs.upgrade * 2.0 + 1.0``). Without ``when`` the factor always applies. A negative
    score is divided by the factor instead, so a boost always moves an item up.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=RULE_NAME)
    when: str | None = None
    factor: float | str = 1.0
    description: str = ""

    @model_validator(mode="after")
    def _meaningful(self) -> BoostRule:
        if isinstance(self.factor, float) and not (math.isfinite(self.factor) and self.factor > 0):
            raise ValueError("factor must be a finite number > 0 (use a filter to drop items)")
        if self.when is None and not isinstance(self.factor, str):
            raise ValueError("a booster needs `when` or an expression `factor`")
        return self


class RuleSet(BaseModel):
    """Filters (all must pass) then boosters (factors multiply), in order."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    filters: tuple[FilterRule, ...] = ()
    boosters: tuple[BoostRule, ...] = ()
    description: str = ""

    @model_validator(mode="after")
    def _unique_names(self) -> RuleSet:
        names = [r.name for r in self.filters] + [r.name for r in self.boosters]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"rule names must be unique: {', '.join(dupes)}")
        return self

    @property
    def content_hash(self) -> str:
        """SHA-256 of the canonical JSON body (the compile-cache key)."""
        body = json.dumps(self.model_dump(mode="json"), sort_keys=True)
        return hashlib.sha256(body.encode()).hexdigest()

    def compile(self) -> CompiledRuleSet:
        """Check every expression; raises RuleError naming the rule and the position."""
        return _compile_ruleset(self.content_hash, self)

    def merged(self, override: RuleSet | None) -> RuleSet:
        """This set with ``override``'s rules replacing same-named ones and adding the rest."""
        if override is None:
            return self
        names = {r.name for r in override.filters} | {r.name for r in override.boosters}
        return RuleSet(
            filters=tuple(r for r in self.filters if r.name not in names) + override.filters,
            boosters=tuple(r for r in self.boosters if r.name not in names) + override.boosters,
            description=self.description)


def effective_ruleset(stored: RuleSet | None, override: RuleSet | None = None, *,
                      mode: Literal["replace", "merge"] = "replace") -> RuleSet:
    """The rules of one request: the stored set, or a per-request override of it."""
    if override is None:
        return stored or RuleSet()
    if mode == "replace" or stored is None:
        return override
    return stored.merged(override)


@dataclass(frozen=True)
class CompiledRule:
    name: str
    kind: Literal["filter", "boost"]
    condition: CompiledExpression | None
    factor: float | CompiledExpression
    on_error: Literal["exclude", "keep"] = "exclude"


@dataclass(frozen=True)
class CompiledRuleSet:
    """A rule set whose expressions are checked and ready to run."""

    rules: tuple[CompiledRule, ...]
    content_hash: str


def _compile_one(rule_kind: str, name: str, part: str, source: str) -> CompiledExpression:
    try:
        return compile_expression(source)
    except RuleError as exc:
        raise RuleError(f"{rule_kind} {name!r} ({part}): {exc.message}", rule=name,
                        part=part, **exc.details) from None


@lru_cache(maxsize=256)
def _compile_ruleset(content_hash: str, ruleset: RuleSet) -> CompiledRuleSet:
    rules: list[CompiledRule] = []
    for f in ruleset.filters:
        rules.append(CompiledRule(f.name, "filter",
                                   _compile_one("filter", f.name, "expression", f.expression),
                                   1.0, f.on_error))
    for b in ruleset.boosters:
        cond = _compile_one("booster", b.name, "when", b.when) if b.when is not None else None
        factor: float | CompiledExpression = (
            _compile_one("booster", b.name, "factor", b.factor)
            if isinstance(b.factor, str) else float(b.factor))
        rules.append(CompiledRule(b.name, "boost", cond, factor))
    return CompiledRuleSet(tuple(rules), content_hash)


def validate_ruleset(body: Mapping[str, Any] | RuleSet) -> RuleSet:
    """Parse and compile a rule-set body: ConfigError-free pydantic errors, RuleError on CEL."""
    ruleset = body if isinstance(body, RuleSet) else RuleSet.model_validate(body)
    ruleset.compile()
    return ruleset


def save_ruleset(configs: ConfigStore, tid: int, name: str,
                 ruleset: RuleSet | Mapping[str, Any]) -> int:
    """Validate (schema and every expression) and store as the next version of ``name``."""
    checked = validate_ruleset(ruleset)
    return put_config(configs, tid, RULES_KIND, name, checked)


def load_ruleset(configs: ConfigStore, tid: int, name: str,
                 version: int | None = None) -> RuleSet:
    """A stored rule set (the newest version by default)."""
    return get_config(configs, tid, RULES_KIND, name, RuleSet, version)
