"""Hostile expressions against the CEL sandbox: each fails to compile or fails safely."""

from __future__ import annotations

import os
import time

import pytest

from tailorcrm.customize.cel import compile_expression, to_cel
from tailorcrm.customize.cel_check import CelLimits
from tailorcrm.customize.context import RuleContext
from tailorcrm.customize.rule_engine import Candidate, RuleStats, apply_rules
from tailorcrm.customize.rules import FilterRule, RuleSet
from tailorcrm.errors import RuleError

ITEM = {"item_id": "a", "title": "Tent", "price": 10.0, "available": True,
        "categories": ["outdoor"], "category": "outdoor"}


def activation() -> dict[str, object]:
    return {"item": to_cel(ITEM), "customer": to_cel({"budget": 20.0}), "needs": to_cel({}),
            "context": to_cel({}), "segments": to_cel({})}


@pytest.mark.parametrize(("source", "reason"), [
    ("item.__class__", "forbidden"),
    ("item.__class__.__mro__", "forbidden"),
    ("customer.__dict__", "forbidden"),
    ("__import__('os')", "unknown_function"),
    ("eval('1')", "unknown_function"),
    ("exec('import os')", "unknown_function"),
    ("open('/etc/passwd')", "unknown_function"),
    ("getattr(item, 'x')", "unknown_function"),
    ("os.system('true')", "unknown_function"),
    ("os.environ", "unknown_name"),
    ("globals", "unknown_name"),
    ("item.title.format('x')", "unknown_function"),
    ("[1, 2].reduce(r, i, 'a', r + r)", "unknown_function"),
    ("[1].map(x, [2].map(y, [3].map(z, z)))", "too_deep"),
    ("item.categories.exists(item, true)", "macro"),
    ("google.protobuf.Struct{fields: {}}", "forbidden"),
    (".item", "forbidden"),
    ("(" * 60 + "1" + ")" * 60, "too_deep"),
    (" && ".join(["true"] * 250), "too_large"),
    ("1 + " * 1500 + "1", "too_long"),
    ("[" + ", ".join(["1"] * 400) + "]", "too_large"),
    ("'" + "a" * 2500 + "'.size() > 0", "too_long"),
    ("[1].map(x, x).map(y, y).map(z, z)", "too_deep"),
    ("has(item.__class__)", "forbidden"),
    ("[1].min()", "unknown_function"),
    ("item.title.matches('(')", "regex"),
    ("item.price +", "syntax"),
    ("item.price ** 2", "syntax"),
    ("lambda: 1", "syntax"),
    ("", "empty"),
])
def test_hostile_expression_is_refused_at_compile_time(source: str, reason: str) -> None:
    with pytest.raises(RuleError) as info:
        compile_expression(source)
    assert info.value.details["reason"] == reason
    assert info.value.message


@pytest.mark.parametrize("source", [
    "item['__class__']",
    "item['__globals__'] == 1",
    "item.price.x",
    "item.missing",
    "type(item).x",
    "dyn(item).__len__ == 1" .replace("__len__", "nosuchfield"),
    "item.price + 'a'",
    "1 / 0",
    "item.categories[5]",
    "int('x') > 0",
    "customer['budget'] > duration('1h')",
    "duration('99999999999999h') > duration('1h')",
    "timestamp('not a time') > timestamp('2020-01-01T00:00:00Z')",
    "item.categories.map(c, c + 1)",
    "item.title.matches(item.category + '(')",  # a pattern from data: RE2 refuses it
    "size(item.categories.filter(c, c.nope))",
])
def test_hostile_expression_fails_at_run_time_without_side_effects(source: str) -> None:
    before = set(os.listdir("."))
    expr = compile_expression(source)
    with pytest.raises(RuleError):
        expr.evaluate(activation())
    assert set(os.listdir(".")) == before


def test_regex_bomb_runs_in_linear_time() -> None:
    # cel-python's matches() uses RE2: the classic catastrophic pattern returns at once.
    expr = compile_expression("item.title.matches('^(a+)+$')")
    item = dict(ITEM, title="a" * 5000 + "!")
    start = time.perf_counter()
    assert not bool(expr.evaluate({**activation(), "item": to_cel(item)}))
    assert time.perf_counter() - start < 5.0  # a backtracking engine would never return


def test_type_function_reveals_no_python_object_usable_for_escape() -> None:
    expr = compile_expression("type(item) == map")
    assert bool(expr.evaluate(activation()))


def test_limits_are_configuration() -> None:
    tight = CelLimits(max_length=10)
    with pytest.raises(RuleError) as info:
        compile_expression("item.price <= 10.0", limits=tight)
    assert info.value.details["reason"] == "too_long"


def test_failing_filter_excludes_and_is_counted() -> None:
    rules = RuleSet(filters=(FilterRule(name="hostile", expression="item['__class__'] == 1"),
                             FilterRule(name="lenient", expression="item.nope == 1",
                                        on_error="keep")))
    stats = RuleStats()
    out = apply_rules([Candidate("a", 1.0)], {"a": ITEM}, RuleContext(), rules, stats=stats)
    assert out == []
    assert stats.of("hostile").errors == 1 and stats.of("hostile").excluded == 1
    assert "no such key" in (stats.of("hostile").first_error or "")

    keep = RuleSet(filters=(FilterRule(name="lenient", expression="item.nope == 1",
                                       on_error="keep"),))
    stats = RuleStats()
    out = apply_rules([Candidate("a", 1.0)], {"a": ITEM}, RuleContext(), keep, stats=stats)
    assert [c.item_id for c in out] == ["a"]
    assert stats.errors == 1


def test_budget_guard_stops_a_slow_rule() -> None:
    # Literal lists are capped by the node limit, but data can be large: two nested macros
    # over a 30-element customer list cost 900 inner evaluations per item.
    slow = "customer.xs.all(a, customer.xs.all(b, a + b >= item.price - 1000.0))"
    rules = RuleSet(filters=(FilterRule(name="slow", expression=slow, on_error="keep"),))
    items = {str(i): dict(ITEM, item_id=str(i), price=float(i)) for i in range(50)}
    ctx = RuleContext(customer={"xs": list(range(30))})
    stats = RuleStats()
    out = apply_rules([Candidate(str(i), 1.0) for i in range(50)], items, ctx, rules,
                      stats=stats, budget_seconds=0.01)
    counts = stats.of("slow")
    assert len(out) == 50  # on_error="keep"
    assert counts.evaluated == 50
    assert counts.errors >= 1 and "budget" in (counts.first_error or "")
