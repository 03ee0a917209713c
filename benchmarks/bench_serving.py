"""Serving load benchmark: the demo tenant (default strategy, a three-rule strategy, next
best actions) and a large synthetic tenant behind ``tailorcrm serve``, loaded from a second
process over loopback, beside a bare FastAPI endpoint (the stack's ceiling) in the same run.

Every scenario is reported as a ratio to the bare ceiling. Goals on 2 cores, 4 connections:
online with reasons (the default strategy) >= 1,000 requests/s at p99 <= 10 ms; next best
actions >= 500 requests/s; precomputed >= 0.8 x the bare ceiling; the three-rule strategy
>= 500 requests/s at p99 <= 20 ms; events in batches >= 5,000/s, zero acknowledged lost.

Run alone: ``scripts/with-postgres.sh .venv/bin/python benchmarks/bench_serving.py``
(``--quick`` for shorter runs and a smaller synthetic tenant; without a PostgreSQL server the
PostgreSQL rows are left out and the report says so).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from results_io import machine, write_results
from serving_load import run_load, start_bare, start_tailorcrm, stop

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
COMMAND = "scripts/with-postgres.sh .venv/bin/python benchmarks/bench_serving.py"
GOAL_ONLINE_RPS, GOAL_P99_MS, GOAL_EVENTS_PER_S = 1000, 10.0, 5000
GOAL_NBA_RPS, GOAL_RULES_RPS, GOAL_RULES_P99_MS, GOAL_PRECOMPUTED_RATIO = 500, 500, 20.0, 0.8
THREE_RULES = {
    "name": "three-rules", "description": "bench: the default model with three rules",
    "rules": {"filters": [{"name": "in-budget",
                           "expression": "item.available && item.price <= 400.0"}],
              "boosters": [{"name": "top-tier", "when": "item.tier == 'premium'", "factor": 1.5},
                           {"name": "eco", "when": "item.eco_friendly == true",
                            "factor": 1.2}]}}
LIVE_CUSTOMERS = 300  # demo customers given an event after training (the online scenario)


# -- synthetic tenant ------------------------------------------------------------------------
def build_tenant(url: str, artifacts: Path, n_customers: int, n_items: int,
                 cached: int, seed: int = 7) -> dict[str, Any]:
    """Write the tenant, fit and activate an ItemKNN model, precompute ``cached`` lists."""
    from tailorcrm.customize.pipeline import Pipeline
    from tailorcrm.customize.precompute import pipeline_hash, precompute_lists
    from tailorcrm.customize.rules import RuleSet
    from tailorcrm.customize.strategies import SHIPPED_DEFAULT
    from tailorcrm.jobs.train import RECOMMENDER_NAME
    from tailorcrm.recommend.itemknn import ItemKNN
    from tailorcrm.recommend.ranking import RankingConfig
    from tailorcrm.store import Store
    from tailorcrm.store.model_store import save_vocab

    rng = np.random.default_rng(seed)
    timings: dict[str, float] = {}
    store = Store.open(url)
    tid = store.tenants.ensure("bench")
    _, key = store.keys.create(tid, ["admin"], "bench")
    started = time.perf_counter()
    groups = 50
    item_group = rng.integers(0, groups, n_items)
    items = pd.DataFrame({"item_id": [f"i{i}" for i in range(n_items)],
                          "title": [f"Item {i}" for i in range(n_items)],
                          "categories": [[f"g{g}"] for g in item_group]})
    store.items.upsert(tid, items)
    store.customers.upsert(tid, pd.DataFrame({"customer_id": [f"c{c}"
                                                              for c in range(n_customers)]}))
    by_group = [np.flatnonzero(item_group == g) for g in range(groups)]
    per_customer = 6
    cust = np.repeat(np.arange(n_customers), per_customer)
    taste = rng.integers(0, groups, n_customers)[cust]
    own = rng.random(len(cust)) < 0.8
    picks = np.where(own, [by_group[t][rng.integers(0, len(by_group[t]))] for t in taste],
                     rng.integers(0, n_items, len(cust)))
    ts = pd.Timestamp("2025-01-01", tz="UTC") + pd.to_timedelta(
        rng.integers(0, 300 * 86400, len(cust)), unit="s")
    events = pd.DataFrame({"customer_id": [f"c{c}" for c in cust],
                           "item_id": [f"i{i}" for i in picks],
                           "type": np.where(rng.random(len(cust)) < 0.3, "purchase", "view"),
                           "ts": ts})
    for start in range(0, len(events), 100_000):
        store.events.add(tid, events.iloc[start:start + 100_000])
    timings["write_tenant_s"] = round(time.perf_counter() - started, 1)
    started = time.perf_counter()
    data = store.load_dataset(tid)
    model = ItemKNN().fit(data)
    version = "bench-v1"
    path = model.save(artifacts / "recommender" / version)
    save_vocab(path, data)
    pipeline = Pipeline.build(SHIPPED_DEFAULT, model, data, chosen=RankingConfig())
    chash = pipeline_hash(SHIPPED_DEFAULT, RuleSet(), pipeline.ranker.config)
    store.models.register(tid, RECOMMENDER_NAME, version, model.name, str(path), {}, chash,
                          activate=True)
    timings["fit_s"] = round(time.perf_counter() - started, 1)
    started = time.perf_counter()
    rows, _ = precompute_lists(pipeline, [f"c{c}" for c in range(cached)],
                               model_version=version, config_hash=chash)
    store.recommendations.replace(tid, "default", rows)
    timings["precompute_s"] = round(time.perf_counter() - started, 1)
    n_events = store.events.count(tid)
    store.close()
    return {"key": key, "events": n_events, "timings": timings}


def build_demo(url: str, artifacts: Path, work: Path, tenant: str) -> dict[str, Any]:
    """The demo tenant (``tailorcrm demo``'s data and training), a stored three-rule strategy
    on its default model, and one event after training for ``LIVE_CUSTOMERS`` customers."""
    from tailorcrm.customize.strategies import save_strategy
    from tailorcrm.demo.run import run_demo
    from tailorcrm.store import Store

    started = time.perf_counter()
    store = Store.open(url, artifacts_dir=artifacts)
    result = run_demo(store, tenant, work, artifacts)
    tid = result.tenant_id
    save_strategy(store.configs, tid, THREE_RULES)
    # the rule strategy's lists are made by a training run: retrain with it stored
    from tailorcrm.jobs.train import TrainConfig, train_tenant

    train_tenant(store, tid, artifacts, TrainConfig(needs=False))
    _, key = store.keys.create(tid, ["admin"], "bench")
    ids = sorted(str(c) for c in store.load_dataset(tid).customer_vocab.ids)
    items = sorted(str(i) for i in store.load_dataset(tid).item_vocab.ids)
    # disjoint pools: the write scenarios turn their customers into "changed" ones, which
    # must not leak into the read scenarios measured after them
    live, fresh = ids[:LIVE_CUSTOMERS], ids[LIVE_CUSTOMERS:LIVE_CUSTOMERS + 1000]
    writes = ids[LIVE_CUSTOMERS + 1000:]
    now = dt.datetime.now(dt.UTC)
    store.events.add(tid, [{"idempotency_key": f"bench-live-{c}", "customer_id": c,
                            "item_id": items[k % len(items)], "type": "view", "ts": now}
                           for k, c in enumerate(live)])
    events = store.events.count(tid)
    store.close()
    return {"key": key, "live": live, "fresh": fresh, "writes": writes, "items": items,
            "events": events,
            "seconds": round(time.perf_counter() - started, 1)}


def scenarios(demo: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """What the load generator asks of the demo tenant."""
    return {
        "precomputed": {"kind": "get", "customers": demo["fresh"]},
        "online (newer events)": {"kind": "get", "customers": demo["live"]},
        "online, event then list": {"kind": "event-then-get", "customers": demo["writes"],
                                    "items": demo["items"]},
        "three-rule strategy": {"kind": "get", "customers": demo["fresh"],
                                "query": "?n=10&strategy=three-rules"},
        "three-rule strategy, online": {"kind": "get", "customers": demo["live"],
                                        "query": "?n=10&strategy=three-rules"},
        "next best actions": {"kind": "nba", "customers": demo["fresh"], "query": "?limit=5"},
        "events (batches of 500)": {"kind": "events", "customers": demo["writes"],
                                    "items": demo["items"], "batch": 500},
    }


def measure(port: int, key: str, plan: dict[str, dict[str, Any]], names: list[str],
            seconds: float, connections: int, label: str) -> list[dict[str, Any]]:
    """Warm up, then run each named scenario once."""
    out = []
    for name in names:
        scenario = {"name": f"{label}/{name}/{connections}", **plan[name]}
        warm = run_load(port, key, scenario, min(2.0, seconds), 2)  # warm-up (loads, caches)
        row = run_load(port, key, scenario, seconds, connections)
        # events the warm-up stored count too: lost = before + every acknowledged - stored
        out.append({"setup": label, "scenario": name, **row,
                    "acknowledged_warmup": warm["acknowledged"]})
        print(f"{label:28} {name:30} c={connections:<3} {row['rps']:>8} req/s "
              f"p99 {row['p99_ms']} ms errors {row['errors']}", flush=True)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="shorter runs, smaller tenants")
    parser.add_argument("--seconds", type=float, default=6.0)
    args = parser.parse_args()
    seconds = 3.0 if args.quick else args.seconds
    folder = Path(tempfile.mkdtemp(prefix="bench-serving-"))
    rows: list[dict[str, Any]] = []
    notes: list[str] = []
    load_before = os.getloadavg()[0]

    bare, port = start_bare(folder)
    try:
        ceiling = [{"setup": "bare FastAPI", "scenario": "fixed list from a dict", **run_load(
            port, "x", {"name": "bare", "kind": "get", "customers": ["c1", "c2"]}, seconds, c)}
            for c in (4, 16)]
    finally:
        stop(bare)
    rows += ceiling
    print("bare ceiling", [r["rps"] for r in ceiling], flush=True)

    backends = [("SQLite", f"sqlite:///{folder / 'demo.db'}")]
    pg = os.environ.get("TAILORCRM_TEST_POSTGRES_URL")
    if pg:
        backends.append(("PostgreSQL", pg))
    else:
        notes.append("No PostgreSQL server: the PostgreSQL rows were not measured.")
    demos: dict[str, dict[str, Any]] = {}
    for backend, url in backends:
        tenant = f"demo-{int(time.time())}"
        demo = build_demo(url, folder / f"artifacts-{backend}", folder / f"work-{backend}",
                          tenant)
        demos[backend] = demo
        plan = scenarios(demo)
        stored_before = demo["events"]
        for workers in ((1, 2) if backend == "SQLite" else (1,)):
            proc, port = start_tailorcrm(url, folder / f"artifacts-{backend}", workers)
            label = f"demo, {backend}, {workers} worker{'s' if workers > 1 else ''}"
            try:
                reads = ["precomputed", "online (newer events)"]
                if workers == 1:
                    rows += measure(port, demo["key"], plan, [n for n in plan if n not in (
                        "online, event then list", "events (batches of 500)")], seconds, 4,
                        label)
                    if backend == "SQLite":
                        rows += measure(port, demo["key"], plan, reads, seconds, 16, label)
                    rows += measure(port, demo["key"], plan, ["online, event then list",
                                                              "events (batches of 500)"],
                                    seconds, 4, label)
                else:
                    rows += measure(port, demo["key"], plan, reads, seconds, 4, label)
            finally:
                stop(proc)
        from tailorcrm.store import Store

        with Store.open(url) as store:
            tid = store.tenants.id_of(tenant)
            stored = store.events.count(tid)
        acknowledged = sum(r["acknowledged"] + r.get("acknowledged_warmup", 0) for r in rows
                           if r.get("setup", "").startswith(f"demo, {backend}"))
        demo["lost"] = stored_before + acknowledged - stored
        demo["acknowledged"] = acknowledged

    n_customers, n_items = (10_000, 1_000) if args.quick else (100_000, 10_000)
    cached = min(n_customers // 10, 2_000)
    big_url = f"sqlite:///{folder / 'big.db'}"
    built = build_tenant(big_url, folder / "artifacts-big", n_customers, n_items, cached)
    proc, port = start_tailorcrm(big_url, folder / "artifacts-big", 1)
    try:
        plan = {"precomputed": {"kind": "get", "customers": [f"c{c}" for c in range(cached)]},
                "online (no list)": {"kind": "get", "customers": [
                    f"c{c}" for c in range(cached, n_customers)]}}
        rows += measure(port, built["key"], plan, list(plan), seconds, 4,
                        f"synthetic {n_customers // 1000}k customers, item-kNN, SQLite")
    finally:
        stop(proc)

    report = {"rows": rows, "demo": {k: {x: v[x] for x in ("events", "acknowledged", "lost",
                                                          "seconds")}
                                     for k, v in demos.items()},
              "synthetic": {"customers": n_customers, "items": n_items,
                            "events": built["events"], "precomputed_lists": cached},
              "seconds_per_scenario": seconds, "notes": notes,
              "load_average_before": round(load_before, 2),
              "load_average_after": round(os.getloadavg()[0], 2), "machine": machine()}
    write_results("serving", report, markdown(report))
    print(json.dumps({k: report[k] for k in ("demo", "notes")}, indent=2))
    return 0


def _find(rows: list[dict[str, Any]], setup: str, scenario: str, connections: int = 4
          ) -> dict[str, Any] | None:
    return next((r for r in rows if r["setup"] == setup and r["scenario"] == scenario
                 and r["connections"] == connections), None)


def markdown(report: dict[str, Any]) -> str:
    """The section of docs/benchmarks.md."""
    rows = report["rows"]
    ceiling = {r["connections"]: r["rps"] for r in rows if r["setup"] == "bare FastAPI"}
    lines = ["## Serving: REST API under load", "",
             f"`{COMMAND}` on {report['machine']['cores']} cores, Python "
             f"{report['machine']['python']}; `tailorcrm serve` (uvicorn) and the load "
             "generator (a second process on loopback, closed loop, keep-alive connections) "
             f"share the machine; {report['seconds_per_scenario']} s per scenario after a "
             "warm-up. The ceiling is a bare FastAPI endpoint returning a fixed 10-item list "
             "from a dict under the same uvicorn, measured in the same run; every row is a "
             "ratio to it at the same number of connections. Demo tenant: `tailorcrm demo`'s "
             f"data and training (default strategy = the tenant's chosen model), "
             f"{LIVE_CUSTOMERS} customers given an event after training. Load average "
             f"{report['load_average_before']} before, {report['load_average_after']} after.",
             "", "| setup | scenario | conn. | requests/s | × ceiling | events/s | p50 ms | "
             "p99 ms | errors |", "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        ratio = r["rps"] / ceiling[r["connections"]] if ceiling.get(r["connections"]) else 0
        lines.append(f"| {r['setup']} | {r['scenario']} | {r['connections']} | {r['rps']:,} | "
                     f"{ratio:.2f} | {r['events_per_s'] or ''} | {r['p50_ms']} | "
                     f"{r['p99_ms']} | {r['errors']} |")
    lines.append("")
    for backend, d in report["demo"].items():
        lines.append(f"{backend}: events acknowledged {d['acknowledged']:,}, lost "
                     f"(acknowledged but not stored) **{d['lost']}**.")
    lines += ["", *report["notes"], "", "Goals (demo, SQLite, 1 worker, 4 connections):", ""]
    setup = "demo, SQLite, 1 worker"

    def goal(name: str, scenario: str, ok: bool, got: str) -> None:
        lines.append(f"- {name}: **{'met' if ok else 'not met'}** ({got})")

    online = _find(rows, setup, "online (newer events)")
    pre = _find(rows, setup, "precomputed")
    rules = _find(rows, setup, "three-rule strategy")
    nba = _find(rows, setup, "next best actions")
    ev = _find(rows, setup, "events (batches of 500)")
    if online:
        goal(f"online with reasons >= {GOAL_ONLINE_RPS} req/s at p99 <= {GOAL_P99_MS} ms",
             "", online["rps"] >= GOAL_ONLINE_RPS and online["p99_ms"] <= GOAL_P99_MS,
             f"{online['rps']:,} req/s, p99 {online['p99_ms']} ms")
    if pre and ceiling.get(4):
        goal(f"precomputed >= {GOAL_PRECOMPUTED_RATIO} × ceiling", "",
             pre["rps"] >= GOAL_PRECOMPUTED_RATIO * ceiling[4],
             f"{pre['rps'] / ceiling[4]:.2f} × {ceiling[4]:,} req/s")
    if rules:
        goal(f"three-rule strategy >= {GOAL_RULES_RPS} req/s at p99 <= {GOAL_RULES_P99_MS} ms",
             "", rules["rps"] >= GOAL_RULES_RPS and rules["p99_ms"] <= GOAL_RULES_P99_MS,
             f"{rules['rps']:,} req/s, p99 {rules['p99_ms']} ms")
    if nba:
        goal(f"next best actions >= {GOAL_NBA_RPS} req/s", "", nba["rps"] >= GOAL_NBA_RPS,
             f"{nba['rps']:,} req/s")
    if ev:
        lost = report["demo"].get("SQLite", {}).get("lost", -1)
        goal(f"events >= {GOAL_EVENTS_PER_S}/s in batches, zero lost", "",
             (ev["events_per_s"] or 0) >= GOAL_EVENTS_PER_S and lost == 0,
             f"{ev['events_per_s']}/s, {lost} lost")
    lines += ["", "Where the time goes: see docs/serving.md (profile of the online path)."]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
