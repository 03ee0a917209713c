"""The vectorised rule path and the interpreter path give identical answers.

Random expressions from a grammar of the vectorised subset (plus a few constructs outside
it), random candidates with missing fields, None, NaN, wrong types, huge integers and
over-long strings: ``apply_rules`` with vectorisation and without it (every rule per row in
cel-python, as before) keep the same items in the same order, with the same scores, reasons
and per-rule counts (errors, exclusions, boosts, budget failures, first error).
"""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from tailorcrm.customize import rule_engine
from tailorcrm.customize.budget import RequestBudget, RuleLimits
from tailorcrm.customize.cel import compile_expression
from tailorcrm.customize.context import RuleContext
from tailorcrm.customize.rule_engine import Candidate, RuleStats, apply_rules, clear_result_cache
from tailorcrm.customize.rule_plan import plan_for
from tailorcrm.customize.rules import BoostRule, FilterRule, RuleSet
from tailorcrm.errors import RuleError

ATOMS = ["item.p", "item.q", "item.s", "item.t", "item.b", "item.missing", "customer.x",
         "customer.name", "customer.flag", "customer.seg.rfm", "needs.u", "needs.nope",
         "1.0", "0.0", "-2.5", "3", "0", "'a'", "''", "'ab'", "true", "false", "1e300"]
LISTS = ["customer.tags", "['a', 'b']", "[1.0, 2.0]", "customer.m", "[]", "customer.nums",
         "[1, 2]", "customer.mixed"]
BINARY = ["==", "!=", "<", "<=", ">", ">=", "&&", "||", "+", "-", "*", "/", "%"]
# A small attribute bound, so that over-long strings are common in the data.
LIMITS = RuleLimits(attribute_chars=6, eval_ms=600_000, request_ms=600_000)


def expressions() -> st.SearchStrategy[str]:
    def extend(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
        return st.one_of(
            st.tuples(inner, st.sampled_from(BINARY), inner).map(lambda t: f"({t[0]} "
                                                                            f"{t[1]} {t[2]})"),
            inner.map(lambda e: f"!{e}"), inner.map(lambda e: f"-({e})"),
            st.tuples(inner, st.sampled_from(LISTS)).map(lambda t: f"({t[0]} in {t[1]})"),
            inner.map(lambda e: f"size({e})"), inner.map(lambda e: f"({e}).size()"),
            st.tuples(inner, st.sampled_from(["startsWith", "endsWith", "contains"]), inner)
            .map(lambda t: f"({t[0]}).{t[1]}({t[2]})"),
            st.tuples(inner, inner, inner).map(lambda t: f"({t[0]} ? {t[1]} : {t[2]})"),
            inner.map(lambda e: f"has({e})" if e.startswith("item.") else e),
        )
    return st.recursive(st.sampled_from(ATOMS), extend, max_leaves=6)


CELL = st.one_of(
    st.none(), st.booleans(), st.sampled_from([0.0, -0.0, 1.0, 2.5, -3.0, 150.0, math.nan,
                                               math.inf, 1e300]),
    st.integers(-5, 5), st.sampled_from([2**60, -(2**63)]),
    st.sampled_from(["", "a", "ab", "b", "ba", "abcdefgh", "é"]),
    st.sampled_from([["a"], [], {"k": 1}]))
ITEM = st.dictionaries(st.sampled_from(["p", "q", "s", "t", "b"]), CELL, max_size=5)


def run(ruleset: RuleSet, items: dict[str, dict[str, Any]], cands: list[Candidate],
        ctx: RuleContext, vectorised: bool) -> Any:
    clear_result_cache()
    with pytest.MonkeyPatch.context() as patch:
        if not vectorised:
            patch.setattr(rule_engine, "vector_decisions", lambda *a, **k: None)
        stats = RuleStats()
        out = apply_rules(cands, items, ctx, ruleset, stats=stats,
                          budget=RequestBudget.unbounded(LIMITS))
    counts = {name: (c.evaluated, c.errors, c.excluded, c.boosted, c.budget, c.first_error)
              for name, c in stats.rules.items()}
    return [(c.item_id, c.score, c.reasons) for c in out], counts


CTX = RuleContext(customer={"x": 2.5, "name": "ab", "flag": True, "seg": {"rfm": "a"},
                            "tags": ["a", "ab"], "m": {"a": 1}, "nums": [1.0, 3],
                            "mixed": ["a", 1.0]},
                  needs={"u": 0.5})


def compiles(source: str) -> bool:
    try:
        compile_expression(source)
    except RuleError:
        return False
    return True


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                   HealthCheck.filter_too_much])
@given(cond=expressions(), when=expressions(), factor=expressions(),
       keep=st.booleans(), rows=st.lists(ITEM, min_size=1, max_size=12))
def test_vectorised_and_interpreted_rules_agree(cond: str, when: str, factor: str,
                                                keep: bool, rows: list[dict[str, Any]]) -> None:
    assume(compiles(cond) and compiles(when) and compiles(factor))
    ruleset = RuleSet(filters=(FilterRule(name="f", expression=cond,
                                          on_error="keep" if keep else "exclude"),),
                      boosters=(BoostRule(name="w", when=when, factor=2.0),
                                BoostRule(name="x", when=when, factor=factor)))
    items = {f"i{k}": {"item_id": f"i{k}", **row} for k, row in enumerate(rows)}
    cands = [Candidate(f"i{k}", float(k % 4) - 1.5) for k in range(len(rows))]
    cands.append(Candidate("ghost", 0.25))  # unknown to the catalogue
    fast = run(ruleset, items, cands, CTX, True)
    slow = run(ruleset, items, cands, CTX, False)
    assert fast == slow


def typed() -> dict[str, st.SearchStrategy[str]]:
    """Well-typed expressions of the subset (bool, number, int, string), so that the fast
    path decides most rows; the data still holds wrong types, nulls and missing fields."""
    def wrap(fmt: str, *parts: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
        return st.tuples(*parts).map(lambda t: fmt.format(*t))

    num_atom = st.sampled_from(["item.p", "item.q", "customer.x", "needs.u", "1.0", "0.0",
                                "-2.5", "1e300"])
    int_atom = st.sampled_from(["3", "0", "size(item.s)", "item.t.size()"])
    str_atom = st.sampled_from(["item.s", "item.t", "customer.name", "customer.seg.rfm",
                                "'a'", "''", "'ab'"])
    bool_atom = st.sampled_from(["item.b", "customer.flag", "true", "false"])
    num = st.deferred(lambda: st.one_of(
        num_atom, num_atom, wrap("({} {} {})", num, st.sampled_from("+-*/"), num),
        wrap("-({})", num), wrap("({} ? {} : {})", boolean, num, num)))
    whole = st.deferred(lambda: st.one_of(
        int_atom, int_atom, wrap("({} {} {})", whole, st.sampled_from("+-*"), whole),
        wrap("-({})", whole)))
    text = st.deferred(lambda: st.one_of(str_atom, str_atom,
                                         wrap("({} ? {} : {})", boolean, text, text)))
    cmp = st.sampled_from(["==", "!=", "<", "<=", ">", ">="])
    boolean = st.deferred(lambda: st.one_of(
        bool_atom, wrap("({} {} {})", num, cmp, num), wrap("({} {} {})", whole, cmp, whole),
        wrap("({} {} {})", num, st.sampled_from(["<", ">="]), whole),
        wrap("({} {} {})", text, cmp, text), wrap("({} {} {})", boolean,
                                                  st.sampled_from(["&&", "||", "=="]),
                                                  boolean),
        wrap("!{}", boolean),
        wrap("({} in {})", text, st.sampled_from(["customer.tags", "['a', 'b']",
                                                  "customer.m", "[]"])),
        wrap("({} in {})", num, st.sampled_from(["[1.0, 2.0]", "customer.nums"])),
        wrap("({}).{}({})", text, st.sampled_from(["startsWith", "endsWith", "contains"]),
             text),
        wrap("({} ? {} : {})", boolean, boolean, boolean)))
    return {"bool": boolean, "num": st.one_of(num, whole)}


NUMBER = st.sampled_from([0.0, 1.0, 2.5, -3.0, 150.0, 1e300, 7, -1])
TEXT = st.sampled_from(["", "a", "ab", "b", "ba", "é"])
TYPED_ITEM = st.fixed_dictionaries({}, optional={
    "p": st.one_of(NUMBER, NUMBER, NUMBER, CELL), "q": st.one_of(NUMBER, NUMBER, CELL),
    "s": st.one_of(TEXT, TEXT, TEXT, CELL), "t": st.one_of(TEXT, CELL),
    "b": st.one_of(st.booleans(), st.booleans(), CELL)})
TYPED = typed()


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                   HealthCheck.filter_too_much])
@given(cond=TYPED["bool"], when=TYPED["bool"], factor=TYPED["num"], keep=st.booleans(),
       rows=st.lists(TYPED_ITEM, min_size=1, max_size=12))
def test_typed_rules_take_the_fast_path_and_agree(cond: str, when: str, factor: str,
                                                  keep: bool,
                                                  rows: list[dict[str, Any]]) -> None:
    assume(compiles(cond) and compiles(when) and compiles(factor))
    assert plan_for(compile_expression(cond)) is not None  # the subset, all of it
    test_vectorised_and_interpreted_rules_agree.hypothesis.inner_test(  # type: ignore[attr-defined]
        cond, when, factor, keep, rows)
