"""Run-time cost budgets: costly rules fail safe, are reported, and stay bounded in memory.

No timed assertions: limits are checked by which limit fired (steps, sizes, attributes are
deterministic; time limits are set out of reach where a test needs determinism). Latency
under load is measured by ``benchmarks/bench_noisy_neighbour.py``.
"""

from __future__ import annotations

import asyncio
import tracemalloc
from typing import Any

import pytest

from tailorcrm.customize.actions import ActionCatalog, rank_actions
from tailorcrm.customize.budget import RequestBudget, RuleLimits
from tailorcrm.customize.cel import compile_expression, to_cel
from tailorcrm.customize.context import RuleContext, Unavailable, bounded_fields
from tailorcrm.customize.governor import THROTTLED, TenantGovernor
from tailorcrm.customize.rule_engine import Candidate, RuleStats, apply_rules, clear_result_cache
from tailorcrm.customize.rules import FilterRule, RuleSet, validate_ruleset
from tailorcrm.errors import RuleError

NESTED_ALL = "customer.biglist.all(x, customer.biglist.all(y, x != 'zz'))"
NESTED_MAP = ("customer.biglist.map(x, customer.biglist.map(y, customer.text + customer.text))"
              ".size() > 0")
# Time out of reach: the deterministic limits decide.
NO_CLOCK = RuleLimits(eval_ms=600_000, request_ms=600_000)
ACTION_VARS = {"customer", "needs", "segments", "context"}


def catalog(costly: str) -> ActionCatalog:
    return ActionCatalog.model_validate({"max_actions": 5, "actions": [
        {"name": "costly", "priority": 9, "eligibility": costly},
        {"name": "cheap", "priority": 1, "eligibility": "needs.churn > 0.5"}]})


def words(n: int) -> list[str]:
    return [f"w{i}" for i in range(n)]


@pytest.mark.parametrize(("biglist", "limits", "limit"), [
    (words(300), RuleLimits(), "attribute"),       # the issue's list: over the 256 bound
    (words(250), NO_CLOCK, "eval_steps"),          # within it: 62,500 inner iterations
])
def test_nested_all_from_the_issue_is_skipped_and_reported(biglist: list[str],
                                                           limits: RuleLimits,
                                                           limit: str) -> None:
    ctx = RuleContext(customer={"biglist": biglist}, needs={"churn": 0.9})
    budget = RequestBudget(limits, tenant="acme")
    errors: dict[str, str] = {}
    ranked = rank_actions(catalog(NESTED_ALL), ctx, errors=errors, budget=budget)
    assert [a.action for a in ranked] == ["cheap"]  # skipped, and the others still answer
    assert "costly" in errors
    [failure] = budget.failures
    assert (failure.name, failure.reason, failure.limit) == ("costly", "budget", limit)


@pytest.mark.parametrize(("text", "biglist", "limit"), [
    ("x" * 1_000_000, words(250), "attribute"),   # the issue's 1 MB text attribute
    ("x" * 4_000, words(250), "alloc"),           # within the bound: what it builds is capped
    ("x" * 4_000, words(20), "alloc"),
])
def test_nested_map_over_text_stays_bounded_in_memory(text: str, biglist: list[str],
                                                      limit: str) -> None:
    ctx = RuleContext(customer={"biglist": biglist, "text": text}, needs={"churn": 0.9})
    budget = RequestBudget(NO_CLOCK, tenant="acme")
    tracemalloc.start()
    try:
        ranked = rank_actions(catalog(NESTED_MAP), ctx, budget=budget)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert [a.action for a in ranked] == ["cheap"]
    assert [(f.name, f.limit) for f in budget.failures] == [("costly", limit)]
    # Unbounded, 250 x 250 strings of 2 MB (or 8 KB) would need gigabytes (or ~500 MB).
    assert peak < 40 * 2**20


def test_built_values_are_capped_one_by_one() -> None:
    ctx = {"customer": to_cel({"s": "x" * 3000})}
    expr = compile_expression("(customer.s + customer.s + customer.s).size() > 0",
                              variables=ACTION_VARS)
    with pytest.raises(RuleError) as info:
        expr.evaluate(ctx, RequestBudget(RuleLimits(max_string=8000)))
    assert info.value.details["limit"] == "size"
    assert bool(expr.evaluate(ctx, RequestBudget(RuleLimits(max_string=9000))))


def test_request_budget_spans_evaluations_and_then_fails_fast() -> None:
    limits = RuleLimits(eval_ms=600_000, request_ms=600_000, eval_steps=2_000,
                        request_steps=2_500)
    budget = RequestBudget(limits)
    expr = compile_expression("customer.xs.exists(x, x == 'w199')", variables=ACTION_VARS)
    ctx = {"customer": to_cel({"xs": words(200)})}
    assert bool(expr.evaluate(ctx, budget))  # ~1,000 steps
    assert bool(expr.evaluate(ctx, budget))
    with pytest.raises(RuleError) as info:
        expr.evaluate(ctx, budget)  # 500 steps left
    assert info.value.details["limit"] == "request_steps"
    cheap = compile_expression("true", variables=ACTION_VARS)
    with pytest.raises(RuleError) as info:
        cheap.evaluate({}, budget)
    assert info.value.details["limit"] == "request_steps"
    assert budget.evaluations == 3


def test_a_request_out_of_time_fails_every_remaining_rule() -> None:
    budget = RequestBudget(RuleLimits(), deadline=1.0)  # long past
    with pytest.raises(RuleError) as info:
        compile_expression("true").evaluate({}, budget)
    assert info.value.details["reason"] == "budget"


@pytest.mark.parametrize("source", [
    "customer.segment == 'vip' && needs.churn > 0.5",
    "customer.tags.exists(t, t.startsWith('w1')) ? 2.0 : 1.0",
    "customer.tags.map(t, t + '!').filter(t, t.endsWith('9!')).size()",
    "[customer.segment, 'x'] + ['y']",
    "{'a': customer.segment}.a.matches('^v.p$')",
    "string(needs.churn) + customer.segment",
])
def test_a_normal_rule_evaluates_as_without_a_budget(source: str) -> None:
    import celpy

    values = {"customer": {"segment": "vip", "tags": words(50)}, "needs": {"churn": 0.7}}
    activation = {k: to_cel(v) for k, v in values.items()}
    # the default step and size budgets, with wall-clock limits no loaded CI machine reaches:
    # this test is about the answers, not the time (the time limits have tests of their own)
    relaxed = RequestBudget(RuleLimits(eval_ms=60_000, request_ms=60_000))
    ours = compile_expression(source, variables=ACTION_VARS).evaluate(activation, relaxed)
    env = celpy.Environment()
    plain = env.program(env.compile(source)).evaluate(activation)
    assert ours == plain


def test_oversized_attributes_are_unavailable_not_truncated() -> None:
    limits = RuleLimits(attribute_chars=100, attribute_items=10)
    view = bounded_fields({"ok": "x" * 100, "long": "x" * 101, "tags": words(11),
                           "nested": {"a": words(6), "b": words(6)}, "n": 3.0}, limits)
    assert view["ok"] == "x" * 100 and view["n"] == 3.0
    assert all(isinstance(view[k], Unavailable) for k in ("long", "tags", "nested"))
    ctx = RuleContext(customer={"tags": words(11), "segment": "vip"})
    activation = {k: to_cel(v) for k, v in ctx.variables(limits).items()}
    assert bool(compile_expression("customer.segment == 'vip'").evaluate(activation))
    for source in ("'w1' in customer.tags", "has(customer.tags)", "size(customer.tags) > 0",
                   "customer['tags'].size() > 0"):
        with pytest.raises(RuleError) as info:
            compile_expression(source).evaluate(activation)
        assert info.value.details["limit"] == "attribute", source


def test_costly_filter_excludes_items_and_is_counted() -> None:
    clear_result_cache()
    rules = RuleSet(filters=(FilterRule(name="costly", expression=(
        "customer.xs.all(a, customer.xs.all(b, a != item.title))")),))
    items = {f"i{i}": {"item_id": f"i{i}", "title": f"t{i % 3}"} for i in range(20)}
    ctx = RuleContext(customer={"xs": words(200)})
    stats = RuleStats()
    out = apply_rules([Candidate(i, 1.0) for i in items], items, ctx, rules, stats=stats,
                      budget=RequestBudget.unbounded(NO_CLOCK))
    counts = stats.of("costly")
    assert out == [] and counts.errors == 20 and counts.budget == 20
    assert "steps" in (counts.first_error or "")


@pytest.mark.parametrize("pattern", [r"(a)\\1", "(?<=a)b", "("])
def test_a_regex_re2_refuses_is_rejected_at_validate_with_a_position(pattern: str) -> None:
    body = {"filters": [{"name": "re", "expression": f"item.title.matches('{pattern}')"}]}
    with pytest.raises(RuleError) as info:
        validate_ruleset(body)
    details = info.value.details
    assert (details["reason"], details["rule"], details["line"], details["column"]) == (
        "regex", "re", 1, 20)
    with pytest.raises(RuleError):
        ActionCatalog.model_validate({"actions": [{
            "name": "a", "eligibility": f"matches(customer.name, '{pattern}')"}]}).compile()


def test_an_invalid_regex_from_data_fails_quietly(capfd: pytest.CaptureFixture[str]) -> None:
    expr = compile_expression("item.title.matches(customer.pattern)")
    activation = {"item": to_cel({"title": "aa"}), "customer": to_cel({"pattern": r"(a)\1"})}
    for _ in range(3):
        with pytest.raises(RuleError):
            expr.evaluate(activation)
    assert "re2" not in capfd.readouterr().err.lower()


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def test_governor_throttles_a_tenant_in_debt_without_touching_another() -> None:
    limits = RuleLimits(tenant_cpu_share=0.001, tenant_cpu_burst_ms=1.0, request_ms=20.0)
    governor = TenantGovernor(limits)

    async def scenario() -> tuple[bool, bool, bool, str | None]:
        first = RequestBudget(limits, tenant="a")
        async with governor.admit("a", first) as admitted_first:
            first.cpu_seconds = 5.0  # a costly request: the bucket is deep in debt
        late = RequestBudget(limits, tenant="a")
        async with governor.admit("a", late) as admitted_late:
            pass
        other = RequestBudget(limits, tenant="b")
        async with governor.admit("b", other) as admitted_other:
            pass
        return admitted_first, admitted_late, admitted_other, late.refused

    assert run(scenario()) == (True, False, True, THROTTLED)
    assert governor.tokens("a") < 0 < governor.tokens("b")


def test_governor_limits_concurrency_per_tenant() -> None:
    limits = RuleLimits(tenant_concurrency=1, request_ms=30_000.0)
    governor = TenantGovernor(limits)
    order: list[str] = []

    async def request(name: str, hold: asyncio.Event | None) -> None:
        async with governor.admit("a", RequestBudget(limits)) as admitted:
            assert admitted
            order.append(f"{name} in")
            if hold is not None:
                await hold.wait()
            order.append(f"{name} out")

    async def scenario() -> None:
        hold = asyncio.Event()
        first = asyncio.create_task(request("first", hold))
        await asyncio.sleep(0)
        second = asyncio.create_task(request("second", None))
        for _ in range(5):
            await asyncio.sleep(0)
        assert order == ["first in"]  # the second waits for the slot
        hold.set()
        await asyncio.gather(first, second)

    run(scenario())
    assert order == ["first in", "first out", "second in", "second out"]


def test_rules_validate_refuses_a_backreference_with_a_caret(tmp_path: Any) -> None:
    import json

    from typer.testing import CliRunner

    from tailorcrm.cli.main import app

    bad = tmp_path / "rules.json"
    bad.write_text(json.dumps({"filters": [
        {"name": "re", "expression": r"item.title.matches('(a)\\1')"},
        {"name": "costly", "expression": NESTED_ALL.replace("customer.biglist", "item.tags")}]}))
    result = CliRunner().invoke(app, ["rules", "validate", str(bad)])
    assert result.exit_code == RuleError.exit_code
    assert "line 1, column 20" in result.output and "^" in result.output
    assert "invalid regular expression" in result.output
