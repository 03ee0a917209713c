"""Next best actions under load: ``GET /v1/customers/{id}/next-best-actions?limit=5``.

Copies a trained demo database (``tailorcrm demo``'s; default ``/tmp/demo1/demo.db``, left
untouched), adds an API key to the copy, starts ``tailorcrm serve`` on it and runs the
closed-loop load generator of ``serving_load.py`` (scenario kind ``nba``) over every demo
customer. Also measures in process what rule CPU one request is charged by the tenant
governor (``RequestBudget.cpu_seconds``), and the throughput that 0.2 CPU-s/s allows.

    .venv/bin/python benchmarks/bench_nba.py [--db /tmp/demo1/demo.db] [--seconds 6]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from results_io import machine, write_results
from serving_load import run_load, start_tailorcrm, stop

GOAL_RPS = 500.0


def prepare(source: Path, folder: Path) -> dict[str, Any]:
    """Copy the demo database (and its artifacts) into ``folder``; add a key; list customers."""
    from tailorcrm.store import Store

    db = folder / "demo.db"
    shutil.copy(source, db)
    artifacts = folder / "artifacts"
    if (source.parent / "artifacts").is_dir():
        shutil.copytree(source.parent / "artifacts", artifacts)
    url = f"sqlite:///{db}"
    with Store.open(url, artifacts_dir=artifacts) as store:
        tid = store.tenants.id_of("demo")
        _, key = store.keys.create(tid, ["admin"], "bench-nba")
        customers = sorted(c.customer_id for c in store.customers.list(tid, limit=1_000_000))
    return {"url": url, "artifacts": artifacts, "key": key, "customers": customers, "tid": tid}


def rule_cpu(url: str, tid: int, customers: list[str]) -> dict[str, Any]:
    """Rule CPU charged per request (what the governor's token bucket counts), in process."""
    from tailorcrm.customize.budget import RequestBudget
    from tailorcrm.customize.nba import actions_for_customer, actions_from_cache
    from tailorcrm.serving.actions_cache import ActionsCache
    from tailorcrm.store import Store

    with Store.open(url, migrate=False) as store:
        actions_for_customer(store, tid, customers[0])  # compile once
        cpu, evaluations, wall = 0.0, 0, 0.0
        for cid in customers:
            budget = RequestBudget()
            started = time.perf_counter()
            actions_for_customer(store, tid, cid, limit=5, budget=budget)
            wall += time.perf_counter() - started
            cpu += budget.cpu_seconds
            evaluations += budget.evaluations
        cache = ActionsCache(store)
        started = time.perf_counter()
        for cid in customers:
            actions_from_cache(cache, tid, cid, limit=5, budget=RequestBudget())
        fast = time.perf_counter() - started
    n = len(customers)
    per = cpu / n
    return {"customers": n, "rule_cpu_ms_per_request": round(per * 1000, 4),
            "evaluations_per_request": round(evaluations / n, 2),
            "store_path_ms_per_request": round(wall / n * 1000, 3),
            "cache_path_ms_per_request": round(fast / n * 1000, 3),
            "governor_cap_rps_per_process": round(0.2 / per, 1) if per else None}


def warm_every(port: int, key: str, customers: list[str]) -> None:
    """Ask for every customer once (a server that answered them keeps the answers)."""
    import httpx

    with httpx.Client(base_url=f"http://127.0.0.1:{port}",
                      headers={"Authorization": f"Bearer {key}"}, timeout=30) as client:
        for cid in customers:
            client.get(f"/v1/customers/{cid}/next-best-actions?limit=5")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", type=Path, default=Path("/tmp/demo1/demo.db"))
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--label", default="")
    parser.add_argument("--no-write", action="store_true", help="Print only.")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-nba-") as tmp:
        demo = prepare(args.db, Path(tmp))
        cpu = rule_cpu(demo["url"], demo["tid"], demo["customers"])
        print("rule cpu:", cpu, flush=True)
        proc, port = start_tailorcrm(demo["url"], demo["artifacts"], args.workers)
        try:
            scenario = {"name": "nba", "kind": "nba", "customers": demo["customers"],
                        "query": "?limit=5"}
            run_load(port, demo["key"], {**scenario, "name": "warm"}, 2.0, 2)
            load = run_load(port, demo["key"], scenario, args.seconds, args.connections)
            print("load (first requests of most customers):", load, flush=True)
            warm_every(port, demo["key"], demo["customers"])
            warm = run_load(port, demo["key"], {**scenario, "name": "again"}, args.seconds,
                            args.connections)
            print("load (every customer asked before):", warm, flush=True)
        finally:
            stop(proc)
    result = {"machine": machine(), "label": args.label, "workers": args.workers,
              "load": load, "load_warm": warm, "rule_cpu": cpu, "goal_rps": GOAL_RPS,
              "goal_met": warm["rps"] >= GOAL_RPS and warm["errors"] == 0}
    markdown = (
        "## Next best actions\n\n"
        f"`GET /v1/customers/{{id}}/next-best-actions?limit=5`, demo tenant "
        f"({len(demo['customers'])} customers), SQLite, {args.workers} worker(s), "
        f"{args.connections} connections, {args.seconds:g} s "
        f"({machine()['cores']} cores shared with other work). {args.label}\n\n"
        "| phase | requests/s | p50 ms | p99 ms | errors |\n|---|---|---|---|---|\n"
        f"| first requests of most customers | {load['rps']:,} | {load['p50_ms']} | "
        f"{load['p99_ms']} | {load['errors']} |\n"
        f"| every customer asked before | {warm['rps']:,} | {warm['p50_ms']} | "
        f"{warm['p99_ms']} | {warm['errors']} |\n\n"
        f"In process: store path {cpu['store_path_ms_per_request']} ms/request, cache path "
        f"{cpu['cache_path_ms_per_request']} ms/request (rules included); rule CPU charged "
        f"to the tenant governor {cpu['rule_cpu_ms_per_request']} ms/request "
        f"({cpu['evaluations_per_request']} evaluations), so 0.2 CPU-s/s admits about "
        f"{cpu['governor_cap_rps_per_process']} rule-evaluating requests/s per process.\n\n"
        f"Goal ≥ {GOAL_RPS:g} requests/s: {'met' if result['goal_met'] else 'not met'}.\n")
    if not args.no_write:
        write_results("nba", result, markdown)
    print(markdown)


if __name__ == "__main__":
    main()
