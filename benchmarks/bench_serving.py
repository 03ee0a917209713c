"""Serving load benchmark: a synthetic tenant (10,000 items, 100,000 customers) behind
``tailorcrm serve``, loaded from a second process over loopback.

Measures throughput and p50/p95/p99 latency of recommendations served from precomputed lists
(cached) and scored online, and of ``POST /v1/events`` batches, and counts acknowledged events
missing from the store afterwards. Anchors (published, not run here): Gorse 0.26-0.35 ms mean
per cached recommendation (Go, in process); Metarank ~6 ms p99 for 25 items. Goal: online
>= 1,000 requests/s with p99 <= 10 ms on 2 cores; events >= 5,000/s in batches; zero lost.

Run alone: ``.venv/bin/python benchmarks/bench_serving.py`` (``--quick`` for a smaller tenant).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import platform
import random
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
COMMAND = ".venv/bin/python benchmarks/bench_serving.py"
GOAL_ONLINE_RPS, GOAL_P99_MS, GOAL_EVENTS_PER_S = 1000, 10.0, 5000


# -- synthetic tenant ------------------------------------------------------------------------
def build_tenant(url: str, artifacts: Path, n_customers: int, n_items: int,
                 cached: int, seed: int = 7) -> dict[str, Any]:
    """Write the tenant, fit and activate an ItemKNN model, precompute ``cached`` lists."""
    from tailorcrm.jobs.train import RECOMMENDER_NAME, config_hash
    from tailorcrm.recommend.itemknn import ItemKNN
    from tailorcrm.recommend.ranking import Ranker, RankingConfig
    from tailorcrm.serving.cache import save_vocab
    from tailorcrm.store import Store

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
    ranking = RankingConfig()
    chash = config_hash(ranking)
    store.models.register(tid, RECOMMENDER_NAME, version, model.name, str(path), {}, chash,
                          activate=True)
    timings["fit_s"] = round(time.perf_counter() - started, 1)
    started = time.perf_counter()
    ranker = Ranker(model, data, ranking)
    ids = [f"c{c}" for c in range(cached)]
    rows = []
    for start in range(0, len(ids), 1000):
        for cid, recs in ranker.recommend_for(ids[start:start + 1000]).items():
            rows.append({"customer_id": cid, "model_version": version, "config_hash": chash,
                         "items": [r.to_dict() for r in recs]})
    store.recommendations.replace(tid, "default", rows)
    timings["precompute_s"] = round(time.perf_counter() - started, 1)
    n_events = store.events.count(tid)
    store.close()
    return {"key": key, "events": n_events, "timings": timings}


# -- load generator (runs in its own process) -----------------------------------------------
async def _request(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                   raw: bytes) -> tuple[int, bytes]:
    writer.write(raw)
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    body = await reader.readexactly(length) if length else b""
    return status, body


def _raw(method: str, path: str, key: str, body: bytes = b"") -> bytes:
    head = (f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {key}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n")
    return head.encode() + body


async def _load(port: int, key: str, scenario: str, seconds: float, connections: int,
                customers: list[str], batch: int) -> dict[str, Any]:
    """Closed-loop load: ``connections`` keep-alive connections, each one request at a time.

    Requests are written by hand on asyncio streams: an HTTP client library costs the client
    process more CPU per request than the server spends, which on 2 cores would measure the
    client instead of the server.
    """
    latencies: list[float] = []
    errors = 0
    acknowledged = 0
    deadline = time.perf_counter() + seconds
    rng = random.Random(scenario)
    seq = [0]

    async def worker(w: int) -> None:
        nonlocal errors, acknowledged
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        while time.perf_counter() < deadline:
            if scenario == "events":
                seq[0] += 1
                rows = [{"idempotency_key": f"bench-{w}-{seq[0]}-{j}",
                         "customer_id": rng.choice(customers), "item_id": f"i{rng.randrange(100)}",
                         "type": "view", "ts": "2026-01-01T00:00:00Z"} for j in range(batch)]
                raw = _raw("POST", "/v1/events", key, json.dumps(rows).encode())
            else:
                extra = "&reasons=false" if scenario.endswith("no-reasons") else ""
                raw = _raw("GET", f"/v1/customers/{rng.choice(customers)}/recommendations"
                                  f"?n=10{extra}", key)
            started = time.perf_counter()
            status, body = await _request(reader, writer, raw)
            latencies.append(time.perf_counter() - started)
            if status != 200:
                errors += 1
            elif scenario == "events":
                acknowledged += json.loads(body)["inserted"]
        writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker(w) for w in range(connections)))
    elapsed = time.perf_counter() - started
    ms = np.asarray(latencies) * 1000
    return {"scenario": scenario, "requests": len(latencies), "errors": errors,
            "seconds": round(elapsed, 2), "rps": round(len(latencies) / elapsed, 1),
            "events_per_s": round(acknowledged / elapsed, 1) if scenario == "events" else None,
            "acknowledged": acknowledged, "connections": connections,
            "p50_ms": round(float(np.percentile(ms, 50)), 2),
            "p95_ms": round(float(np.percentile(ms, 95)), 2),
            "p99_ms": round(float(np.percentile(ms, 99)), 2),
            "mean_ms": round(float(ms.mean()), 2)}


def _client(args: tuple[Any, ...], out: Any) -> None:
    out.put(asyncio.run(_load(*args)))


def run_load(*args: Any) -> dict[str, Any]:
    """Run :func:`_load` in a second process and return its figures."""
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_client, args=(args, queue))
    proc.start()
    result: dict[str, Any] = queue.get()
    proc.join()
    return result


# -- orchestration ---------------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_ready(port: int, proc: subprocess.Popen[bytes]) -> None:
    import httpx

    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if proc.poll() is not None:
            break
        time.sleep(0.3)
    raise RuntimeError("server did not start")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a 10x smaller tenant")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    n_customers, n_items = (10_000, 1_000) if args.quick else (100_000, 10_000)
    cached = min(n_customers // 10, 2_000)  # lists with reasons take ~20 ms each to precompute
    folder = Path(tempfile.mkdtemp(prefix="bench-serving-"))
    url = f"sqlite:///{folder / 'bench.db'}"
    built = build_tenant(url, folder / "artifacts", n_customers, n_items, cached)
    port = _free_port()
    env = {**os.environ, "TAILORCRM_ARTIFACTS_DIR": str(folder / "artifacts")}
    proc = subprocess.Popen([sys.executable, "-c", "from tailorcrm.cli.main import app; app()",
                             "serve", "--db", url, "--port", str(port), "--workers",
                             str(args.workers), "--log-level", "warning"], env=env)
    try:
        _wait_ready(port, proc)
        key = built["key"]
        cached_ids = [f"c{c}" for c in range(cached)]
        online_ids = [f"c{c}" for c in range(cached, n_customers)]
        run_load(port, key, "cached", 3.0, 2, cached_ids, 0)  # warm-up: loads the model
        results = [run_load(port, key, name, args.seconds, args.connections, ids, 0)
                   for name, ids in (("cached", cached_ids), ("online", online_ids),
                                     ("online-no-reasons", online_ids))]
        results.append(run_load(port, key, "events", args.seconds, 4, cached_ids, 500))
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    from tailorcrm.store import Store

    with Store.open(url) as store:
        stored = store.events.count(store.tenants.id_of("bench"))
    acknowledged = results[-1]["acknowledged"]
    lost = built["events"] + acknowledged - stored
    report = {"tenant": {"customers": n_customers, "items": n_items, "events": built["events"],
                         "precomputed_lists": cached, "model": "itemknn"},
              "timings": built["timings"], "workers": args.workers, "results": results,
              "events_acknowledged": acknowledged, "events_lost": lost,
              "machine": {"cores": os.cpu_count(), "python": platform.python_version()}}
    write_results(report)
    print(json.dumps(report, indent=2))
    return 0


def write_results(report: dict[str, Any]) -> None:
    """``results/serving.json`` and the markdown section of docs/benchmarks.md."""
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "serving.json").write_text(json.dumps(report, indent=2))
    online = next(r for r in report["results"] if r["scenario"] == "online")
    lean = next(r for r in report["results"] if r["scenario"] == "online-no-reasons")
    events = next(r for r in report["results"] if r["scenario"] == "events")
    met_online = online["rps"] >= GOAL_ONLINE_RPS and online["p99_ms"] <= GOAL_P99_MS
    met_events = (events["events_per_s"] or 0) >= GOAL_EVENTS_PER_S
    t = report["tenant"]
    lines = [
        "## Serving: REST API under load", "",
        f"`{COMMAND}` on {report['machine']['cores']} cores, Python "
        f"{report['machine']['python']}, SQLite, `tailorcrm serve --workers "
        f"{report['workers']}`; the load generator is a second process on loopback "
        f"(closed loop, keep-alive connections). Tenant: {t['customers']:,} customers, "
        f"{t['items']:,} items, {t['events']:,} events, model {t['model']}, "
        f"{t['precomputed_lists']:,} precomputed lists.", "",
        "| scenario | connections | requests/s | events/s | p50 ms | p95 ms | p99 ms | errors |",
        "|---|---|---|---|---|---|---|---|"]
    for r in report["results"]:
        lines.append(f"| {r['scenario']} | {r['connections']} | {r['rps']:,} | "
                     f"{r['events_per_s'] or ''} | {r['p50_ms']} | {r['p95_ms']} | "
                     f"{r['p99_ms']} | {r['errors']} |")
    lines += ["", f"Events acknowledged: {report['events_acknowledged']:,}; "
              f"lost (acknowledged but not stored): **{report['events_lost']}**.", "",
              "Anchors (published, not run here): Gorse 0.26-0.35 ms mean per cached "
              "recommendation (Go, in process, no HTTP); Metarank about 6 ms p99 for 25 items.",
              "",
              f"Goal online >= {GOAL_ONLINE_RPS} req/s with p99 <= {GOAL_P99_MS} ms: "
              f"**{'met' if met_online else 'not met'}** (measured {online['rps']:,} req/s, "
              f"p99 {online['p99_ms']} ms). Goal events >= {GOAL_EVENTS_PER_S}/s: "
              f"**{'met' if met_events else 'not met'}** ({events['events_per_s']}/s). "
              f"Zero events lost: **{'met' if report['events_lost'] == 0 else 'not met'}**.",
              "",
              "Where the online time goes (cProfile of the service call in process, same "
              "tenant, by hand): building reasons item by item dominates (scoring, exclusions "
              "and top-N take ~2 ms); the rest is history labels, id look-ups and two indexed "
              "SQLite reads (events after training, the precomputed list). Two fixes of that "
              "path (item-kNN reads one similarity column from a CSC copy; single-id look-ups "
              "from a dict) took online from 37 to 62 req/s on this machine. Without reasons "
              f"(`reasons=false`) the same lists serve at {lean['rps']:,} req/s "
              f"(p99 {lean['p99_ms']} ms); the remainder is FastAPI/uvicorn per-request work on "
              "one worker. The 2 cores are shared with the load generator (and, in this "
              "session, with other jobs). Closing the gap needs vectorised reasons in the "
              "ranking code, a leaner request path than FastAPI's validation, and more "
              "workers on more cores."]
    (RESULTS / "serving.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    sys.exit(main())
