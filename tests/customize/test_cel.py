"""The CEL layer agrees with plain cel-python: same values and same errors, pruned or not."""

from __future__ import annotations

import datetime as dt
from typing import Any

import celpy
import pytest

from tailorcrm.customize.cel import compile_expression, to_cel, to_python
from tailorcrm.errors import RuleError

CORPUS = [
    "item.available && item.price <= customer.budget",
    "item.category in customer.preferred_categories",
    "has(item.color) || item.categories.exists(c, c == 'b')",
    "item.price * 2.0 + needs.upgrade > 30.0 ? 1.0 : 2.0",
    "!item.available", "-item.price < 0.0", "!!item.available",
    "size(item.categories.map(c, c + 'x')) == 2",
    "item.categories.filter(c, c != 'a')",
    "item.categories.all(c, size(c) == 1) && !item.categories.exists_one(c, c == 'z')",
    "item.categories[0] == 'a'", "{'a': 1, 'b': 2}['b'] == 2", "[1, 2, 3][1] == 2",
    "has(needs.upgrade) ? 1.0 + needs.upgrade : 1.0",
    "item.missing", "item.price + 'x'", "1 / 0", "item.categories[9]",
    "dyn(item).price > 1.0", "type(item) == map", "string(item.price) + '€'",
    "int(item.price) % 3 == 1", "double(size(item.title)) / 2.0",
    "item.title.startsWith('Te') && item.title.endsWith('nt') && item.title.contains('n')",
    "item.title.matches('^T.*t$')", "customer.since < timestamp('2024-01-01T00:00:00Z')",
    "customer.since + duration('720h') > timestamp('2020-01-01T00:00:00Z')",
    "(item.price > 5.0 || item.missing) && (item.missing || true)",
    "false && item.missing", "item.missing || true",
    "segments.rfm == 'champions' && context.channel in ['email', 'sms']",
    "((((item.price))))", "item.price >= 10.0 == true",
]
ACTIVATIONS: list[dict[str, Any]] = [
    {"item": {"item_id": "a", "title": "Tent", "price": 10.0, "available": True,
              "categories": ["a", "b"], "category": "a"},
     "customer": {"budget": 150, "preferred_categories": ["a"],
                  "since": dt.datetime(2023, 5, 1, tzinfo=dt.UTC)},
     "needs": {"upgrade": 0.5}, "segments": {"rfm": "champions"},
     "context": {"channel": "email"}},
    {"item": {"item_id": "b", "title": "Stove", "price": 99.5, "available": False,
              "categories": [], "category": None, "color": "red"},
     "customer": {"budget": 50.0, "preferred_categories": [],
                  "since": dt.datetime(2025, 1, 1, tzinfo=dt.UTC)},
     "needs": {}, "segments": {}, "context": {}},
]


def reference(source: str, activation: dict[str, Any]) -> tuple[bool, Any]:
    env = celpy.Environment()
    try:
        value = env.program(env.compile(source)).evaluate(
            {k: to_cel(v) for k, v in activation.items()})
    except Exception:  # any library error is an error outcome here
        return False, None
    return not isinstance(value, Exception), to_python(value)


@pytest.mark.parametrize("source", CORPUS)
def test_same_outcome_as_plain_cel_python(source: str) -> None:
    expr = compile_expression(source)
    for activation in ACTIVATIONS:
        ok, expected = reference(source, activation)
        try:
            got = (True, to_python(expr.evaluate({k: to_cel(v) for k, v in activation.items()})))
        except RuleError:
            got = (False, None)
        assert got == (ok, expected), (source, activation["item"]["item_id"])


def test_fields_read_are_reported() -> None:
    expr = compile_expression("needs.churn > 0.6 && customer.contract == 'm' && size(item) > 0")
    assert expr.roots == {"needs", "customer", "item"}
    assert expr.fields["needs"] == {"churn"} and expr.fields["customer"] == {"contract"}
    assert expr.item_fields is None  # ``size(item)`` reads the whole item
    assert compile_expression("true").item_fields == frozenset()


def test_python_values_become_cel_values() -> None:
    import math

    import numpy as np

    assert to_python(to_cel({"n": np.int64(3), "x": math.nan, "b": np.bool_(True),
                             "s": {"b", "a"}, "t": ("x",)})) == {
        "n": 3.0, "x": None, "b": True, "s": ["a", "b"], "t": ["x"]}
