"""Business-rule cost: CEL filters and boosters on 500 scored candidates (tailorcrm.customize).

The candidates are synthetic (500 items, 20 categories, 8 brands, distinct prices; seed 42):
rule cost depends on the expressions and the number of distinct values they read, not on a
data set. The peer is the same rules written as plain Python lambdas (no sandbox), measured in
the same run: the floor any interpreter-based sandbox is compared with.
"""

from __future__ import annotations

import functools
import json
import os
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from tailorcrm.customize.cel import _compile_cached
from tailorcrm.customize.context import RuleContext
from tailorcrm.customize.rule_engine import Candidate, apply_rules, clear_result_cache
from tailorcrm.customize.rules import RuleSet

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
N_CANDIDATES = 500
REPEATS = 5
GOAL_MS = 250.0  # the three-rule set on 500 candidates, per request

BUDGET = {"name": "budget", "expression": "item.available && item.price <= customer.budget"}
PREFERRED = {"name": "preferred-category", "factor": 2.0,
             "when": "item.category in customer.preferred_categories"}
BRAND = {"name": "brand-upgrade", "when": "item.brand in ['b1', 'b2']",
         "factor": "needs.upgrade + 1.0"}
SCENARIOS: dict[str, dict[str, Any]] = {
    "filter on a distinct value per item (budget)": {"filters": [BUDGET]},
    "boost on a shared value (category)": {"boosters": [PREFERRED]},
    "three rules (budget, category, brand with expression factor)": {
        "filters": [BUDGET], "boosters": [PREFERRED, BRAND]},
}


def catalog(seed: int = 42) -> tuple[dict[str, dict[str, Any]], list[Candidate]]:
    rng = np.random.default_rng(seed)
    items = {}
    for i in range(N_CANDIDATES):
        cat = f"c{rng.integers(20)}"
        items[f"i{i}"] = {"item_id": f"i{i}", "price": round(float(rng.uniform(1, 300)), 2),
                          "available": bool(rng.random() > 0.1), "category": cat,
                          "categories": [cat], "brand": f"b{rng.integers(8)}"}
    cands = [Candidate(f"i{i}", float(s)) for i, s in enumerate(rng.random(N_CANDIDATES))]
    return items, cands


CTX = RuleContext(customer={"budget": 150.0, "preferred_categories": ["c1", "c2", "c3"]},
                  needs={"upgrade": 0.5})


def _preferred(it: dict[str, Any]) -> bool:
    return bool(it["category"] in CTX.customer["preferred_categories"])


def _two(it: dict[str, Any]) -> float:
    return 2.0


def _brand(it: dict[str, Any]) -> bool:
    return bool(it["brand"] in ("b1", "b2"))


def _upgrade(it: dict[str, Any]) -> float:
    return float(CTX.needs["upgrade"]) + 1.0


def python_peer(body: dict[str, Any]) -> Callable[[list[Candidate], dict[str, Any]], list]:
    """The same rules as Python lambdas (what a no-sandbox implementation would run)."""
    cust = CTX.customer
    filters = [lambda it: it["available"] and it["price"] <= cust["budget"]] * len(
        body.get("filters", []))
    boosts: list[tuple[Callable[[dict[str, Any]], bool], Callable[[dict[str, Any]], float]]] = []
    for b in body.get("boosters", []):
        if b["name"] == "preferred-category":
            boosts.append((_preferred, _two))
        else:
            boosts.append((_brand, _upgrade))

    def run(cands: list[Candidate], items: dict[str, Any]) -> list[tuple[str, float]]:
        out: list[tuple[str, float]] = []
        for c in cands:
            it = items[c.item_id]
            if not all(f(it) for f in filters):
                continue
            score = c.score
            for when, factor in boosts:
                if when(it):
                    score *= factor(it)
            out.append((c.item_id, score))
        return sorted(out, key=lambda x: -x[1])
    return run


def timed(fn: Callable[[], Any], *, cold: bool = False) -> float:
    runs = []
    for _ in range(REPEATS):
        if cold:
            clear_result_cache()
        start = time.perf_counter()
        fn()
        runs.append((time.perf_counter() - start) * 1000)
    return statistics.median(runs)


def main() -> None:
    items, cands = catalog()
    rows: list[dict[str, Any]] = []
    for label, body in SCENARIOS.items():
        ruleset = RuleSet.model_validate(body)
        _compile_cached.cache_clear()
        start = time.perf_counter()
        ruleset.compile()
        compile_ms = (time.perf_counter() - start) * 1000
        kept = len(apply_rules(cands, items, CTX, ruleset))
        run_rules = functools.partial(apply_rules, cands, items, CTX, ruleset)
        cel_ms = timed(run_rules, cold=True)
        warm_ms = timed(run_rules)
        peer = python_peer(body)
        assert len(peer(cands, items)) == kept
        peer_ms = timed(functools.partial(peer, cands, items))
        rows.append({"scenario": label, "rules": len(ruleset.filters) + len(ruleset.boosters),
                     "kept": kept, "compile_ms": compile_ms, "apply_ms": cel_ms,
                     "warm_apply_ms": warm_ms,
                     "per_candidate_us": cel_ms * 1000 / N_CANDIDATES,
                     "python_peer_ms": peer_ms, "ratio_to_peer": cel_ms / peer_ms})
    full = float(rows[-1]["apply_ms"])
    result = {"benchmark": "rules", "candidates": N_CANDIDATES, "repeats": REPEATS,
              "cores": os.cpu_count(), "load_average": os.getloadavg()[0],
              "python": platform.python_version(),
              "goal_ms": GOAL_MS, "goal_met": full <= GOAL_MS, "scenarios": rows}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "rules.json").write_text(json.dumps(result, indent=2) + "\n")
    lines = [
        "## Business rules: CEL filters and boosters on 500 candidates",
        "",
        f"Synthetic pool of {N_CANDIDATES} scored candidates (20 categories, 8 brands, distinct "
        "prices; seed 42), one customer context; median of "
        f"{REPEATS} runs on {os.cpu_count()} cores, Python {platform.python_version()}. "
        "Expressions run in cel-python's tree-walking interpreter behind tailorcrm's static "
        "checks; results are memoised per distinct value of the item fields a rule reads, so a "
        "rule on a shared value (category) costs one evaluation per value, a rule on a "
        "distinct value (price) one per item. Cold: that cache emptied before each run (a "
        "first request); warm: the same customer and items again (the cache is per process "
        "and bounded). Compile is the first, uncached compile of the "
        "set (later requests hit the cache by content hash). Peer: the same rules as plain "
        "Python lambdas, no sandbox.",
        "",
        "| scenario | rules | kept | compile ms | apply ms (cold) | µs / candidate | "
        "apply ms (warm) | Python peer ms | cold × peer |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(f"| {r['scenario']} | {r['rules']} | {r['kept']} | {r['compile_ms']:.1f} "
                     f"| {r['apply_ms']:.1f} | {r['per_candidate_us']:.0f} "
                     f"| {r['warm_apply_ms']:.1f} "
                     f"| {r['python_peer_ms']:.2f} | {r['ratio_to_peer']:.0f} |")
    verdict = "met" if result["goal_met"] else "not met"
    lines += ["", f"**Goal (three-rule set on 500 candidates ≤ {GOAL_MS:.0f} ms per request, "
              f"cold): {verdict}.** Measured: {full:.1f} ms; warm (values seen before): "
              f"{rows[-1]['warm_apply_ms']:.1f} ms.", "",
              "Done to get here: compile once per text; memoise results by the values of the "
              "fields a rule reads (per request and, bounded, across requests); build "
              "cel-python's base activation once per expression instead of per evaluation; "
              "drop one-child pass-through links from the parse tree (a differential test "
              "keeps results identical to plain cel-python). What remains is cel-python's "
              "interpreter: about a third of each evaluation goes to `typing` subscriptions "
              "inside its `cast(...)` calls, an upstream fix worth ~1.8× here that tailorcrm "
              "does not monkeypatch. Figures depend on machine load (other jobs share the 2 "
              "cores): the load average is in the JSON.", "",
              "Command: `.venv/bin/python benchmarks/bench_rules.py` "
              "(results: `benchmarks/results/rules.json`)."]
    (RESULTS / "rules.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
