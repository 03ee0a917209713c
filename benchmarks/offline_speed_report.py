"""The markdown section of ``bench_offline_speed.py``: tables, ratios to the references, goals."""

from __future__ import annotations

from typing import Any

GOAL_EASE_RATIO = 1.1
GOAL_EASE_MEMORY = 2.5
GOAL_HYBRID_CPU = 5.0
GOAL_HYBRID_MB = 400.0
GOAL_NDCG_DELTA = 0.002
GOAL_SQLITE_ROWS = 200_000
GOAL_PG_ROWS = 150_000
GOAL_DUCK_SHARE = 0.35
GOAL_INGEST_MB = 500.0


def _yes(ok: bool) -> str:
    return "met" if ok else "**not met**"


def _ease(part: dict[str, Any]) -> list[str]:
    rows = part["rows"]
    lines = [
        "### EASE fit against a plain NumPy/SciPy EASE (λ = 500, binary matrix)",
        "",
        "Peer: the textbook float32 EASE (`(X.T @ X).toarray()`, `scipy.linalg.cho_factor`, "
        "`cho_solve` against the identity, `B = P / -diag(P)`), same λ and BLAS threads "
        "(threadpoolctl). Ours: `EASE(lam=500)` from the Dataset (matrix included): float32 Gram "
        "built a block of rows at a time, LAPACK `potrf` + `potri` in the Gram's memory. Best of 2 "
        "fresh processes each, run alternately; memory is the process's peak resident growth "
        "over the fit, against the dense item × item float32 matrix (4n² bytes). Synthetic: 610 "
        "customers × 9,066 items shaped like MovieLens latest-small (planted taste clusters), "
        "and its quarter and half (1×, 2×, 4× the catalog).",
        "",
        "| data | items | customers | interactions | threads | peer s (CPU s) | ours s (CPU s) "
        "| ours ÷ peer (wall) | ours ÷ peer (CPU) | peer MB | ours MB | ours MB ÷ 4n² | load "
        "(1 min) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    ok_time, ok_mem = True, True
    for ours in (r for r in rows if r["impl"] == "ours"):
        peer = next(r for r in rows if r["impl"] == "peer" and r["dataset"] == ours["dataset"]
                    and r["threads"] == ours["threads"])
        ratio = ours["seconds"] / peer["seconds"]
        cpu_ratio = ours["cpu_seconds"] / max(peer["cpu_seconds"], 1e-9)
        mem = ours["peak_growth_mb"] / ours["dense_mb"]
        if ours["dataset"] in ("ml100k", "synth9066"):
            ok_time &= min(ratio, cpu_ratio) <= GOAL_EASE_RATIO
            ok_mem &= mem <= GOAL_EASE_MEMORY
        lines.append(
            f"| {ours['dataset']} | {ours['n_items']:,} | {ours['n_customers']:,} | "
            f"{ours['nnz']:,} | {ours['threads']} | {peer['seconds']:.2f} "
            f"({peer['cpu_seconds']:.2f}) | {ours['seconds']:.2f} ({ours['cpu_seconds']:.2f}) | "
            f"{ratio:.2f} | {cpu_ratio:.2f} | {peer['peak_growth_mb']:.0f} | "
            f"{ours['peak_growth_mb']:.0f} | {mem:.2f} | {ours['load_1min']:.1f} |")
    diff = next((r.get("max_abs_diff_vs_peer") for r in rows if r["impl"] == "ours"
                 and r["dataset"] == "ml100k"), None)
    lines += ["", f"Largest weight difference to the peer on MovieLens 100K: {diff:.2e}."
              if diff is not None else "",
              "", f"**Goal (fit ≤ {GOAL_EASE_RATIO} × the peer on 1,682 and 9,066 items):** "
              f"{_yes(ok_time)}; **peak memory ≤ {GOAL_EASE_MEMORY} × 4n²:** {_yes(ok_mem)}."]
    return lines


def _hybrid(part: dict[str, Any]) -> list[str]:
    lines = [
        "### The default hybrid's fit on UCI Online Retail",
        "",
        "`default_recommender().fit(train)` on the training part (last 8 weeks held out); 2× and "
        "4× repeat the log with shifted customer and item ids. Peak MB: the process's peak "
        "resident growth over the fit.",
        "",
        "| data | customers | items | train events | fit s | CPU s | peak MB | parts fitted "
        "| load (1 min) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for f in part["fits"]:
        lines.append(f"| {f['scale']}× | {f['n_customers']:,} | {f['n_items']:,} | "
                     f"{f['n_events']:,} | {f['seconds']:.2f} | {f['cpu_seconds']:.2f} | "
                     f"{f['peak_growth_mb']:.0f} | {', '.join(f['parts'])} | "
                     f"{f['load_1min']:.1f} |")
    one = part["fits"][0]
    new, old = part["ndcg"]["float32"]["ndcg@10"], part["ndcg"]["float64"]["ndcg@10"]
    ok = (one["cpu_seconds"] <= GOAL_HYBRID_CPU and one["peak_growth_mb"] <= GOAL_HYBRID_MB
          and abs(new - old) <= GOAL_NDCG_DELTA)
    lines += ["", f"nDCG@10 on the held-out weeks: {new:.4f} (float32 EASE parts, this code) "
              f"vs {old:.4f} (float64 LU inverse, the previous path, same run): "
              f"{new - old:+.4f}.", "",
              f"**Goal (1×: ≤ {GOAL_HYBRID_CPU:.0f} CPU s, ≤ {GOAL_HYBRID_MB:.0f} MB, nDCG "
              f"within {GOAL_NDCG_DELTA}):** {_yes(ok)} ({one['cpu_seconds']:.2f} CPU s, "
              f"{one['peak_growth_mb']:.0f} MB, {new - old:+.4f})."]
    return lines


def _swap(part: dict[str, Any]) -> list[str]:
    lines = [
        "### What the swap above `EASE_MAX_SIZE` costs (validation carves of the training parts)",
        "",
        "Above 5,000 items (customers, for the customer-side part) the default leaves its EASE "
        "parts out and blends ALS, BM25 item-kNN and content. Measured by forcing the swap "
        "(`default_recommender(ease_max_size=1)`) on each data set's training part, split again "
        "by the same protocol (the test part is never used).",
        "",
        "| data | default nDCG@10 | without EASE | cost | default fit CPU s | without EASE "
        "CPU s |",
        "|---|---|---|---|---|---|",
    ]
    for name, r in part.items():
        if name == "started":
            continue
        d, s = r["default"], r["without EASE"]
        lines.append(f"| {name} | {d['ndcg@10']:.4f} | {s['ndcg@10']:.4f} | "
                     f"{s['ndcg@10'] - d['ndcg@10']:+.4f} | {d['train_cpu_seconds']:.2f} | "
                     f"{s['train_cpu_seconds']:.2f} |")
    return lines


def _ingest(part: dict[str, Any]) -> list[str]:
    lines = [
        "### Import at 1×, 2×, 4× Online Retail (full validation, quarantine, idempotency)",
        "",
        "`run_import` through the online-retail mapping into a fresh database per load, each in "
        "its own process; copy k of the file has CustomerID + k·100,000 and StockCode + `~k`. "
        "DuckDB `read_csv` of the same file (no validation) beside it. A second import of the "
        "same file follows each load (loaded: must be 0).",
        "",
        "| data | target | rows read | loaded | re-import loaded | wall s | rows/s | CPU s | "
        "peak MB | ÷ DuckDB | load (1 min) |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    rows = part["rows"]
    for r in rows:
        duck = next(d for d in rows if d["target"] == "duckdb" and d["scale"] == r["scale"])
        rate = r["rows"] / r["seconds"]
        lines.append(
            f"| {r['scale']}× | {r['target']} | {r['rows']:,} | {r['loaded']:,} | "
            f"{r.get('reimport_loaded', '')} | {r['seconds']:.2f} | {rate:,.0f} | "
            f"{r['cpu_seconds']:.2f} | {r['peak_growth_mb']:.0f} | "
            f"{rate / (duck['rows'] / duck['seconds']):.3f} | {r['load_1min']:.1f} |")
    one = {r["target"]: r for r in rows if r["scale"] == 1}
    sq = one.get("sqlite")
    if sq:
        rate = sq["rows"] / sq["seconds"]
        duck = one["duckdb"]["rows"] / one["duckdb"]["seconds"]
        lines += ["", f"**Goal (SQLite ≥ {GOAL_SQLITE_ROWS:,} rows/s and ≥ {GOAL_DUCK_SHARE} × "
                  f"DuckDB, peak < {GOAL_INGEST_MB:.0f} MB):** "
                  f"{_yes(rate >= GOAL_SQLITE_ROWS and rate >= GOAL_DUCK_SHARE * duck)} "
                  f"({rate:,.0f} rows/s, {rate / duck:.3f} × DuckDB, "
                  f"{rate / GOAL_SQLITE_ROWS:.2f} × the goal)."]
    pg = one.get("postgresql")
    if pg:
        rate = pg["rows"] / pg["seconds"]
        lines += ["", f"**PostgreSQL goal (≥ {GOAL_PG_ROWS:,} rows/s):** "
                  f"{_yes(rate >= GOAL_PG_ROWS)} ({rate:,.0f} rows/s)."]
    return lines


#: Where the time goes, measured by hand (cProfile and micro-benchmarks; commands in each).
PROFILES = {
    "hybrid": [
        "Where the 1× fit's time goes (idle machine, load 0.3, each part fitted alone on the "
        "same training part, CPU s): item-side DLAE 1.46 (of which `potrf` + `potri` 1.1, Gram "
        "0.3), ALS 1.61 (implicit's CG solver, 15 iterations, 16 factors, one thread), BM25 "
        "item-kNN 0.38, customer-side DLAE 1.99 (4,363 customers: the largest inverse), "
        "content 0.07; the whole default 5.66 CPU s (cProfile of `default_recommender().fit`). "
        "The issue measured 17.8 CPU s (loaded machine); what changed: float64 LU inverses (2n³ "
        "flops, against n³ for `potrf` + `potri` in float32) and every part rebuilding its "
        "interaction matrix through pandas (8 builds, 3.1 CPU s in a profile at load 5; the "
        "Dataset now builds each once). "
        "The remaining gap to 5 CPU s is the two inverses and ALS; the parts' hyper-parameters "
        "were left as tuned (changing ALS's iterations would move the tuned blend).",
    ],
    "ingest": [
        "Where the import's time goes (cProfile of `run_import` on Online Retail into SQLite, "
        "load 0.9, 22.1 s under the profiler): SQLite `executemany` 10.8 s (1.8 s of it "
        "building the row tuples), the per-chunk commits 2.5 s, the deferred index rebuild 2.5 "
        "s, cleaning 4.2 s (idempotency hashes 1.4 s), reading and parsing the gzip CSV 1.2 s. "
        "The write path's floor on this machine, measured with the 536,641 finished rows and "
        "the `sqlite3` module alone (`executemany` in 100,000-row transactions, WAL, "
        "synchronous=NORMAL): a table without any index 2.3 CPU s; with the events table's "
        "unique (tenant_id, idempotency_key) text index 6.5-7.5 CPU s; the same with 64-bit "
        "integer keys 5.9 CPU s, and without AUTOINCREMENT 4.9 CPU s; sorting each chunk by key "
        "6.4 CPU s; a staging table then one sorted `INSERT … SELECT` 5.7 CPU s; a larger page "
        "cache (128 MB) 7.5 CPU s; one JSON parameter per chunk through `json_each` 4.9 CPU s "
        "without an index. 200,000 rows/s is 2.7 s for the whole file: the SQLite insert into "
        "the current schema costs more than that by itself, before any validation, so no "
        "choice of write path reaches the goal without a schema change (integer keys, no "
        "AUTOINCREMENT) and a columnar cleaner, which this change does not make. Tried and "
        "withdrawn: reading and cleaning the next chunk in a thread while one is written cost "
        "more than it saved (A/B, same file, alternated, load 5.5-6.6: sequential 32.7 / 33.0 "
        "s wall, 17.4 / 17.1 CPU s, 489 MB; overlapped 40.5 / 35.1 s, 20.3 / 18.5 CPU s, "
        "544 MB): the GIL serialises the Python parts of both stages and two chunks in flight "
        "break the 500 MB bound.",
    ],
}


def markdown(result: dict[str, Any]) -> str:
    """The section stitched into docs/benchmarks.md."""
    lines = ["## Offline speed: EASE, the default hybrid's fit, the import (issue 15)", "",
             f"`{result['command']}` on {result['machine']['cores']} cores, Python "
             f"{result['machine']['python']}; other sessions' tests shared the machine (load "
             "averages in the tables). Wall-clock and CPU seconds side by side.", ""]
    for name, render in (("ease", _ease), ("hybrid", _hybrid), ("swap", _swap),
                         ("ingest", _ingest)):
        if name in result:
            lines += [*render(result[name]), "", *PROFILES.get(name, []), "",
                      f"(part `{name}` measured {result[name]['started']})", ""]
    return "\n".join(lines) + "\n"
