"""Business rules: CEL filters and boosters applied to scored candidates before the top-N cut.

A :class:`RuleSet` is config as data (stored per tenant, versioned, overridable per request).
:func:`apply_rules` runs it on candidates ``(item_id, score, reasons)``.

Fail-safe policy when a rule errors at run time for one item (missing field, wrong type):

* a **filter** that errors **excludes** the item by default (``on_error="exclude"``): a filter
  usually guards a business constraint (stock, budget, compliance) and an item we cannot prove
  acceptable is not shown; set ``on_error="keep"`` on a filter where showing is the safe side;
* a **booster** that errors leaves the score unchanged (factor 1).

Every error is counted per rule in :class:`RuleStats` and logged once per rule and call.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Literal, NamedTuple, cast

from celpy import celtypes
from pydantic import BaseModel, ConfigDict, Field, model_validator

from tailorcrm.customize.cel import CompiledExpression, compile_expression, to_cel
from tailorcrm.customize.context import RuleContext
from tailorcrm.errors import RuleError
from tailorcrm.recommend.reasons import Reason, ReasonKind

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
class _CompiledRule:
    name: str
    kind: Literal["filter", "boost"]
    condition: CompiledExpression | None
    factor: float | CompiledExpression
    on_error: Literal["exclude", "keep"] = "exclude"


@dataclass(frozen=True)
class CompiledRuleSet:
    """A rule set whose expressions are checked and ready to run."""

    rules: tuple[_CompiledRule, ...]
    content_hash: str


def _compile_one(rule_kind: str, name: str, part: str, source: str) -> CompiledExpression:
    try:
        return compile_expression(source)
    except RuleError as exc:
        raise RuleError(f"{rule_kind} {name!r} ({part}): {exc.message}", rule=name,
                        part=part, **exc.details) from None


@lru_cache(maxsize=256)
def _compile_ruleset(content_hash: str, ruleset: RuleSet) -> CompiledRuleSet:
    rules: list[_CompiledRule] = []
    for f in ruleset.filters:
        rules.append(_CompiledRule(f.name, "filter",
                                   _compile_one("filter", f.name, "expression", f.expression),
                                   1.0, f.on_error))
    for b in ruleset.boosters:
        cond = _compile_one("booster", b.name, "when", b.when) if b.when is not None else None
        factor: float | CompiledExpression = (
            _compile_one("booster", b.name, "factor", b.factor)
            if isinstance(b.factor, str) else float(b.factor))
        rules.append(_CompiledRule(b.name, "boost", cond, factor))
    return CompiledRuleSet(tuple(rules), content_hash)


def validate_ruleset(body: Mapping[str, Any] | RuleSet) -> RuleSet:
    """Parse and compile a rule-set body: ConfigError-free pydantic errors, RuleError on CEL."""
    ruleset = body if isinstance(body, RuleSet) else RuleSet.model_validate(body)
    ruleset.compile()
    return ruleset


class Candidate(NamedTuple):
    """One scored item on its way to the top-N."""

    item_id: str
    score: float
    reasons: tuple[Reason, ...] = ()


@dataclass
class RuleCounts:
    """What one rule did during one call."""

    evaluated: int = 0
    errors: int = 0
    excluded: int = 0
    boosted: int = 0
    seconds: float = 0.0
    first_error: str | None = None


@dataclass
class RuleStats:
    """Per-rule counts of one :func:`apply_rules` call (pass one in to read them)."""

    rules: dict[str, RuleCounts] = field(default_factory=dict)

    def of(self, name: str) -> RuleCounts:
        return self.rules.setdefault(name, RuleCounts())

    @property
    def errors(self) -> int:
        return sum(c.errors for c in self.rules.values())


def rule_reason(label: str, weight: float, ref: str) -> Reason:
    """A ``rule`` reason (the kind is not in ``ReasonKind`` yet; see docs/customization.md)."""
    return Reason(cast(ReasonKind, "rule"), label, weight, ref)


def _freeze(value: Any) -> Any:
    if isinstance(value, list | tuple):
        return tuple(_freeze(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((str(k), _freeze(v)) for k, v in value.items()))
    if isinstance(value, set | frozenset):
        return tuple(sorted(map(str, value)))
    try:
        hash(value)
    except TypeError:
        return repr(value)
    return value


_MISSING = object()
_Outcome = tuple[bool, Any]  # (ok, value-or-error message)


class _Evaluator:
    """Evaluates one compiled expression over many items, memoised by the item fields read."""

    def __init__(self, expr: CompiledExpression, base: Mapping[str, Any]) -> None:
        self.expr = expr
        self.base = base
        self.memo: dict[Any, _Outcome] = {}

    def __call__(self, item: Mapping[str, Any]) -> _Outcome:
        fields = self.expr.item_fields
        if fields is None:
            key: Any = _freeze(dict(item))
        else:
            key = tuple(_freeze(item.get(f, _MISSING)) if f in item else _MISSING
                        for f in sorted(fields))
        if key in self.memo:
            return self.memo[key]
        activation = dict(self.base)
        if "item" in self.expr.roots:
            shown = item if fields is None else {f: item[f] for f in fields if f in item}
            activation["item"] = to_cel(shown)
        try:
            outcome: _Outcome = (True, self.expr.evaluate(activation))
        except RuleError as exc:
            outcome = (False, exc.message)
        self.memo[key] = outcome
        return outcome


def _as_number(value: Any) -> float | None:
    # cel-python arithmetic may hand back plain floats; bools are ints but not numbers here.
    if isinstance(value, bool | celtypes.BoolType) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) and number > 0 else None


def apply_rules(candidates: Iterable[Candidate | tuple[str, float, Sequence[Reason]]],
                items: Mapping[str, Mapping[str, Any]], ctx: RuleContext,
                ruleset: RuleSet | CompiledRuleSet, *, stats: RuleStats | None = None,
                budget_seconds: float = 2.0) -> list[Candidate]:
    """Filter and boost ``candidates``; the result is sorted by the new score (stable).

    Parameters
    ----------
    candidates:
        ``(item_id, score, reasons)`` triples, typically the scored pool before top-N.
    items:
        ``item_id`` → item view (see :func:`tailorcrm.customize.context.item_views`); an
        item missing here is seen as ``{"item_id": id}`` (its field reads then fail safe).
    ctx:
        The customer, needs, segments and request context.
    ruleset:
        The rules (compiled once per content hash).
    stats:
        Filled with per-rule counts when given.
    budget_seconds:
        Run-time guard per rule and call: once a rule has spent this long, its remaining
        evaluations count as errors (fail-safe) instead of running.
    """
    compiled = ruleset.compile() if isinstance(ruleset, RuleSet) else ruleset
    stats = stats if stats is not None else RuleStats()
    base = {name: to_cel(value) for name, value in ctx.variables().items()}
    pool = [Candidate(c[0], float(c[1]), tuple(c[2])) for c in candidates]
    for rule in compiled.rules:
        counts = stats.of(rule.name)
        cond = _Evaluator(rule.condition, base) if rule.condition is not None else None
        factor_eval = (_Evaluator(rule.factor, base)
                       if isinstance(rule.factor, CompiledExpression) else None)
        kept: list[Candidate] = []
        for cand in pool:
            item = items.get(cand.item_id) or {"item_id": cand.item_id}
            error: str | None
            if counts.seconds > budget_seconds:
                ok, passed, factor = False, False, None
                error = f"rule exceeded its {budget_seconds:g} s budget"
            else:
                start = time.perf_counter()
                ok, passed, factor, error = _decide(rule, cond, factor_eval, item)
                counts.seconds += time.perf_counter() - start
            counts.evaluated += 1
            if not ok:
                counts.errors += 1
                if counts.first_error is None:
                    counts.first_error = error
                    log.warning("rule %r failed for item %s (fail-safe applied): %s",
                                rule.name, cand.item_id, error)
                if rule.kind == "filter" and rule.on_error == "exclude":
                    counts.excluded += 1
                    continue
                kept.append(cand)
            elif rule.kind == "filter" and not passed:
                counts.excluded += 1
            elif rule.kind == "boost" and passed and factor is not None and factor != 1.0:
                counts.boosted += 1
                kept.append(_boost(cand, factor, rule.name))
            else:
                kept.append(cand)
        pool = kept
    return sorted(pool, key=lambda c: -c.score)


def _decide(rule: _CompiledRule, cond: _Evaluator | None, factor_eval: _Evaluator | None,
            item: Mapping[str, Any]) -> tuple[bool, bool, float | None, str | None]:
    """``(ok, condition passed, boost factor, error)`` of one rule for one item."""
    ok, value = cond(item) if cond is not None else (True, celtypes.BoolType(True))
    if not ok:
        return False, False, None, str(value)
    if not isinstance(value, celtypes.BoolType):
        return False, False, None, f"expected a bool, got {type(value).__name__}"
    if rule.kind == "filter" or not bool(value):
        return True, bool(value), None, None
    if factor_eval is None:
        return True, True, float(cast(float, rule.factor)), None
    ok, raw = factor_eval(item)
    if not ok:
        return False, False, None, str(raw)
    factor = _as_number(raw)
    if factor is None:
        return False, False, None, f"factor is not a number > 0: {raw!r}"
    return True, True, factor, None


def _boost(cand: Candidate, factor: float, name: str) -> Candidate:
    """Scale the score (away from zero for negative scores) and explain it.

    Existing reason weights are scaled by 1/factor and the rule takes the rest, so the
    weights still sum to what they did (for demotions the rule reason weighs 0).
    """
    score = cand.score * factor if cand.score >= 0 else cand.score / factor
    verb = "boosted" if factor > 1 else "demoted"
    if factor > 1:
        share = 1 - 1 / factor
        reasons = tuple(Reason(r.kind, r.label, r.weight / factor, r.ref) for r in cand.reasons)
    else:
        share, reasons = 0.0, cand.reasons
    label = f"{verb} ×{factor:g} by rule '{name}'"
    return Candidate(cand.item_id, score, (*reasons, rule_reason(label, share, name)))
