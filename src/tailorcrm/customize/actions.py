"""The next-best-action catalog: offers, service interventions and campaigns with CEL eligibility.

Each :class:`Action` says who it is for (a CEL expression over ``customer``, ``segments``,
``needs`` and ``context``; no ``item``), how much it matters (``priority``, and a ``value``
that may itself be an expression such as ``needs.churn * 120.0``), where it is delivered
(``channel``) and what it links to (items, categories, a strategy's recommendations).
:func:`rank_actions` returns a customer's eligible actions, best first, each with reasons: the
rule that matched, the need scores the rule read, and the linked recommendations.
Expressions run under a :class:`~tailorcrm.customize.budget.RequestBudget`: an action whose
expression exceeds it is skipped (fail-safe) and reported in the budget's ``failures``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, cast

from pydantic import BaseModel, ConfigDict, Field, model_validator

from tailorcrm.customize.budget import DEFAULT_RULE_LIMITS, RequestBudget
from tailorcrm.customize.cel import CompiledExpression, compile_expression, to_cel, to_python
from tailorcrm.customize.configs import ACTIONS_KIND, ConfigStore, get_config, put_config
from tailorcrm.customize.context import RuleContext
from tailorcrm.customize.rules import RULE_NAME
from tailorcrm.errors import RuleError
from tailorcrm.recommend.reasons import Reason, ReasonKind

ACTION_VARIABLES = frozenset({"customer", "needs", "segments", "context"})
DEFAULT_CATALOG = "default"


class Action(BaseModel):
    """One next best action."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=RULE_NAME)
    kind: Literal["offer", "service", "campaign"] = "offer"
    title: str = ""
    description: str = ""
    eligibility: str = Field(description="CEL over customer, segments, needs, context.")
    priority: float = 0.0
    value: float | str = Field(0.0, description="Expected value: a number or a CEL number.")
    channel: str = "any"
    linked_items: tuple[str, ...] = ()
    linked_categories: tuple[str, ...] = ()
    strategy: str | None = Field(None, description="Strategy whose list feeds linked items.")
    max_linked: int = Field(3, ge=0)
    suppress_days: float = Field(30.0, ge=0, description="Hide after a rejection this long.")
    enabled: bool = True


class ActionCatalog(BaseModel):
    """A tenant's actions and how many to propose per customer."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    actions: tuple[Action, ...] = ()
    rank_by: Literal["priority", "value"] = "priority"
    max_actions: int = Field(3, ge=1)
    description: str = ""

    @model_validator(mode="after")
    def _unique(self) -> ActionCatalog:
        names = [a.name for a in self.actions]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"action names must be unique: {', '.join(dupes)}")
        return self

    def compile(self) -> dict[str, tuple[CompiledExpression, CompiledExpression | None]]:
        """Check every expression (RuleError naming the action, part and position)."""
        out = {}
        for a in self.actions:
            cond = _compile(a.name, "eligibility", a.eligibility)
            value = _compile(a.name, "value", a.value) if isinstance(a.value, str) else None
            out[a.name] = (cond, value)
        return out

    def get(self, name: str) -> Action | None:
        return next((a for a in self.actions if a.name == name), None)


def _compile(name: str, part: str, source: str) -> CompiledExpression:
    try:
        return compile_expression(source, variables=ACTION_VARIABLES)
    except RuleError as exc:
        raise RuleError(f"action {name!r} ({part}): {exc.message}", action=name, part=part,
                        **exc.details) from None


@dataclass(frozen=True)
class ActionRecommendation:
    """One eligible action for one customer, with why and what it links to."""

    action: str
    kind: str
    title: str
    channel: str
    priority: float
    value: float
    items: tuple[str, ...] = ()
    reasons: tuple[Reason, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        return {"action": self.action, "kind": self.kind, "title": self.title,
                "channel": self.channel, "priority": self.priority,
                "value": round(self.value, 6), "items": list(self.items),
                "reasons": [r.to_dict() for r in self.reasons]}


def _reason(kind: str, label: str, weight: float, ref: str) -> Reason:
    # "rule" and "need" are not in ReasonKind yet (see docs/customization.md).
    return Reason(cast(ReasonKind, kind), label, weight, ref)


def _linked(action: Action, recommended: Sequence[Mapping[str, Any] | str],
            items: Mapping[str, Mapping[str, Any]]) -> tuple[str, ...]:
    """Linked items: fixed ones first, then recommended items in the linked categories."""
    picked = [i for i in action.linked_items
              if (items.get(i) or {}).get("available", True) is not False]
    if action.linked_categories or (action.strategy and not action.linked_items):
        wanted = set(action.linked_categories)
        for entry in recommended:
            item_id = entry if isinstance(entry, str) else str(entry.get("item_id"))
            cats = set((items.get(item_id) or {}).get("categories") or [])
            if item_id not in picked and (not wanted or wanted & cats):
                picked.append(item_id)
    return tuple(picked[:action.max_linked])


def rank_actions(catalog: ActionCatalog, ctx: RuleContext, *,
                 recommended: Mapping[str, Sequence[Mapping[str, Any] | str]] | None = None,
                 items: Mapping[str, Mapping[str, Any]] | None = None,
                 suppressed: frozenset[str] = frozenset(), limit: int | None = None,
                 errors: dict[str, str] | None = None,
                 budget: RequestBudget | None = None) -> list[ActionRecommendation]:
    """A customer's eligible actions, best first (priority or value, then the other, then name).

    ``recommended`` maps a strategy name to that customer's list (item ids or
    ``{item_id, ...}``), ``items`` gives item views for category links, ``suppressed`` holds
    actions the customer recently rejected. An eligibility or value expression that errors
    makes the action ineligible (fail-safe); the error is put in ``errors`` by action name
    and reported in ``budget`` (which also bounds the cost of all expressions together; a
    fresh default budget when None).
    """
    budget = budget if budget is not None else RequestBudget(DEFAULT_RULE_LIMITS)
    started = time.perf_counter()
    compiled = catalog.compile()
    budget.exclude(time.perf_counter() - started)
    base = {name: to_cel(value) for name, value in ctx.variables(budget.limits).items()}
    out: list[ActionRecommendation] = []
    for action in catalog.actions:
        if not action.enabled or action.name in suppressed:
            continue
        cond, value_expr = compiled[action.name]
        try:
            ok = cond.evaluate(base, budget)
            if not isinstance(to_python(ok), bool):
                raise RuleError(f"eligibility must be a bool, got {type(ok).__name__}")
            if not to_python(ok):
                continue
            value = (float(action.value) if value_expr is None
                     else _number(value_expr, base, budget))
        except RuleError as exc:
            if errors is not None:
                errors[action.name] = exc.message
            over = exc.details.get("reason") == "budget"
            budget.report(action.name, "budget" if over else "eval",
                          exc.details.get("limit") if over else None, exc.message)
            continue
        reasons = [_reason("rule", f"eligible: {action.eligibility}", 1.0, action.name)]
        for need in sorted(_needs_read(cond, value_expr, ctx)):
            if need in ctx.needs:
                score = float(ctx.needs[need])
                by = " (baseline)" if ctx.need_sources.get(need) == "baseline" else ""
                reasons.append(_reason("need", f"{need} score {score:.2f}{by}", score, need))
        rec_list = (recommended or {}).get(action.strategy or "", [])
        linked = _linked(action, rec_list, items or {})
        for item_id in linked:
            title = (items or {}).get(item_id, {}).get("title") or item_id
            reasons.append(_reason("attribute", f"linked: {title}", 0.0, item_id))
        out.append(ActionRecommendation(action.name, action.kind, action.title or action.name,
                                        action.channel, action.priority, value, linked,
                                        tuple(reasons)))
    if catalog.rank_by == "priority":
        out.sort(key=lambda a: (-a.priority, -a.value, a.action))
    else:
        out.sort(key=lambda a: (-a.value, -a.priority, a.action))
    return out[:limit or catalog.max_actions]


def _needs_read(cond: CompiledExpression, value: CompiledExpression | None,
                ctx: RuleContext) -> set[str]:
    """The need names the eligibility and value expressions read (all when used whole)."""
    read: set[str] = set()
    for expr in (cond, value):
        if expr is None or "needs" not in expr.roots:
            continue
        fields = expr.fields.get("needs")
        read |= set(ctx.needs) if fields is None else set(fields)
    return read


def _number(expr: CompiledExpression, activation: Mapping[str, Any],
            budget: RequestBudget) -> float:
    raw = to_python(expr.evaluate(activation, budget))
    if isinstance(raw, bool) or not isinstance(raw, int | float) or not math.isfinite(raw):
        raise RuleError(f"value must be a finite number, got {raw!r}")
    return float(raw)


def save_catalog(configs: ConfigStore, tid: int, catalog: ActionCatalog | Mapping[str, Any],
                 name: str = DEFAULT_CATALOG) -> int:
    """Validate (schema and every expression) and store the catalog as its next version."""
    checked = catalog if isinstance(catalog, ActionCatalog) else ActionCatalog.model_validate(
        catalog)
    checked.compile()
    return put_config(configs, tid, ACTIONS_KIND, name, checked)


def load_catalog(configs: ConfigStore, tid: int, name: str = DEFAULT_CATALOG,
                 version: int | None = None) -> ActionCatalog:
    """A stored catalog (newest version by default)."""
    return get_config(configs, tid, ACTIONS_KIND, name, ActionCatalog, version)
