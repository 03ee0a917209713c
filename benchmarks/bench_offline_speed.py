"""Offline speed (issue 15): EASE against a plain NumPy/SciPy EASE, the default hybrid's fit, and
the import, each at 1x, 2x and 4x the data, side by side with its reference in the same run.

Every measurement runs in a child process of its own, so its peak memory (``ru_maxrss`` minus
the resident memory just before the timed block) is its own. Parts: ``ease``, ``hybrid``,
``swap``, ``ingest`` (``--parts ease hybrid`` runs a subset and keeps the others' results).

* EASE: MovieLens 100K (1,682 items) and a synthetic implicit matrix shaped like MovieLens
  "latest-small" (610 customers, 9,066 items, about 100,000 interactions, planted taste
  clusters; it is not in the shared data) and its quarter and half (2,266 and 4,533 items,
  customers and interactions scaled alike). Peer: the textbook float32 EASE, ``cho_factor``
  then ``cho_solve`` against the identity, the same λ = 500 and BLAS thread count.
* Hybrid: the default's fit on UCI Online Retail's training part (last 8 weeks held out), the
  log repeated 2x and 4x with shifted customer and item ids; nDCG@10 of the default at 1x next
  to the same default with float64 EASE parts (the previous code path), in the same run.
* Swap: what leaving the EASE parts out (the default above ``EASE_MAX_SIZE``) costs, on
  validation carves of the training parts (never a test part).
* Ingest: ``run_import`` of Online Retail repeated 1x, 2x, 4x (shifted ids) into SQLite (and
  PostgreSQL under ``scripts/with-postgres.sh``), DuckDB ``read_csv`` of the same file beside.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from offline_speed_report import markdown
from results_io import RESULTS, machine, write_results

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
NAME = "offline_speed"
DATA_DIR = Path(os.environ.get("TAILORCRM_DATA_DIR", ROOT.parent / "shared" / "data"))
RETAIL = DATA_DIR / "uci-online-retail" / "online_retail.csv.gz"
LAM = 500.0
SCALES = (1, 2, 4)
SYNTH_ITEMS = {1: 2_266, 2: 4_533, 4: 9_066}


def _rss_mb() -> float:
    from tailorcrm.evaluation.memory import rss_bytes

    return rss_bytes() / 2**20


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


class Timed:
    """Wall and CPU seconds and peak memory growth of a block (in a fresh child process)."""

    def __enter__(self) -> Timed:
        self.rss0, self.cpu0, self.wall0 = _rss_mb(), _cpu(), time.perf_counter()
        return self

    def __exit__(self, *_: object) -> None:
        self.seconds = time.perf_counter() - self.wall0
        self.cpu_seconds = _cpu() - self.cpu0
        self.peak_mb = _peak_mb() - self.rss0

    def result(self) -> dict[str, float]:
        return {"seconds": self.seconds, "cpu_seconds": self.cpu_seconds,
                "peak_growth_mb": self.peak_mb}


# -- EASE ---------------------------------------------------------------------------------
def synthetic_events(n_items: int, seed: int = 42) -> pd.DataFrame:
    """Binary interactions shaped like MovieLens latest-small scaled to ``n_items``: 20 taste
    clusters, Zipf popularity inside each, each customer drawing 80 % from 1-3 clusters."""
    rng = np.random.default_rng(seed)
    scale = n_items / 9_066
    n_customers = max(50, round(610 * scale))
    cluster = rng.integers(0, 20, n_items)
    pop = 1.0 / (rng.permutation(n_items) + 10.0) ** 0.9
    rows: list[np.ndarray] = []
    cols: list[np.ndarray] = []
    for c in range(n_customers):
        size = int(np.clip(rng.lognormal(4.6, 0.9), 20, n_items // 3))
        taste = np.isin(cluster, rng.choice(20, rng.integers(1, 4), replace=False))
        p = pop * np.where(taste, 4.0, 0.25)
        items = rng.choice(n_items, size, replace=False, p=p / p.sum())
        rows.append(np.full(size, c))
        cols.append(items)
    # every item once more for a random customer, so the catalog has all n_items
    rows.append(rng.integers(0, n_customers, n_items))
    cols.append(np.arange(n_items))
    pairs = np.unique(np.column_stack([np.concatenate(rows), np.concatenate(cols)]), axis=0)
    r, i = pairs[:, 0], pairs[:, 1]
    return pd.DataFrame({"customer_id": [f"u{x}" for x in r], "item_id": [f"m{x}" for x in i]})


def _ease_events(dataset: str) -> pd.DataFrame:
    if dataset == "ml100k":
        from tailorcrm.evaluation.loaders import read_movielens

        return read_movielens(DATA_DIR / "movielens-100k" / "u.data")
    return synthetic_events(int(dataset.removeprefix("synth")))


def peer_ease_fit(matrix: Any, lam: float, threads: int) -> np.ndarray:
    """The textbook float32 EASE: Gram matrix, ``cho_factor``, ``cho_solve`` with I."""
    from scipy import linalg
    from threadpoolctl import threadpool_limits

    X = matrix.astype(np.float32)
    gram = (X.T @ X).toarray()
    gram[np.diag_indices_from(gram)] += lam
    with threadpool_limits(threads, "blas"):
        factor = linalg.cho_factor(gram, overwrite_a=True, check_finite=False)
        P = linalg.cho_solve(factor, np.eye(len(gram), dtype=np.float32), overwrite_b=True,
                             check_finite=False)
    B = P / (-np.diag(P))
    np.fill_diagonal(B, 0.0)
    return B


def _warm_blas(threads: int) -> None:
    """One small Cholesky inverse first: OpenBLAS allocates its work buffers (tens of MB) on
    its first level-3 call, once per process; that is not the fit's memory."""
    from threadpoolctl import threadpool_limits

    from tailorcrm.recommend.ease_solve import inverse_in_place

    a = np.eye(512, dtype=np.float32) * 2
    with threadpool_limits(threads, "blas"):
        peer_ease_fit(__import__("scipy.sparse").sparse.csr_matrix(a), LAM, threads)
        inverse_in_place(a, threads)
        _ = a @ a


def child_ease(impl: str, dataset: str, threads: str) -> dict[str, Any]:
    """One EASE fit (``ours`` or ``peer``) on one data set, timed from the Dataset."""
    import scipy.linalg  # noqa: F401  (imports outside the timed block, for both)
    from threadpoolctl import threadpool_info

    from tailorcrm.data.dataset import Dataset
    from tailorcrm.recommend.ease import EASE

    threadpool_info()
    _warm_blas(int(threads))
    data = Dataset.from_events(_ease_events(dataset))
    n = data.n_items
    with Timed() as t:
        if impl == "ours":
            weights = EASE(lam=LAM, num_threads=int(threads)).fit(data).weights_
        else:
            weights = peer_ease_fit(data.interaction_matrix(weighting="binary"), LAM,
                                    int(threads))
    out = {**t.result(), "n_items": n, "n_customers": data.n_customers,
           "nnz": int(data.interaction_matrix(weighting="binary").nnz),
           "dense_mb": n * n * 4 / 2**20, "threads": int(threads)}
    if dataset == "ml100k":  # the two agree: largest weight difference
        other = (peer_ease_fit(data.interaction_matrix(weighting="binary"), LAM, int(threads))
                 if impl == "ours" else None)
        if other is not None:
            out["max_abs_diff_vs_peer"] = float(np.max(np.abs(other - weights)))
    return out


# -- hybrid on Online Retail -------------------------------------------------------------
def retail_dataset(scale: int) -> Any:
    """Online Retail (as bench_online_retail_recs loads it) repeated ``scale`` times with
    shifted customer and item ids."""
    from bench_online_retail_recs import load
    from tailorcrm.data.dataset import Dataset

    base = load(RETAIL)
    if scale == 1:
        return base
    ev = [base.events.assign(customer_id=base.events["customer_id"] + f"~{k}",
                             item_id=base.events["item_id"] + f"~{k}") for k in range(scale)]
    items = [base.items.set_axis(base.items.index + f"~{k}") for k in range(scale)]
    custs = [base.customers.set_axis(base.customers.index + f"~{k}") for k in range(scale)]
    events = pd.concat(ev).sort_values("ts", kind="stable").reset_index(drop=True)
    return Dataset.from_events(events, customers=pd.concat(custs), items=pd.concat(items))


def _retail_config() -> Any:
    from tailorcrm.evaluation.runner import EvaluationConfig

    return EvaluationConfig(protocol="cutoff", holdout_weeks=8.0, k=10, truth="new_items",
                            warm_only=True, include_default=False, models={})


def child_hybrid(scale: str) -> dict[str, Any]:
    """The default recommender's fit on the training part of Online Retail × ``scale``."""
    from tailorcrm.evaluation.runner import split
    from tailorcrm.recommend.default import default_recommender

    data = retail_dataset(int(scale))
    train = data.with_events(split(data.events, _retail_config())[0])
    model = default_recommender()
    with Timed() as t:
        model.fit(train)
    hybrid = model.models[0]
    return {**t.result(), "n_customers": train.n_customers, "n_items": train.n_items,
            "n_events": len(train.events),
            "parts": [m.name + ("(customer)" if getattr(m.config, "side", "") == "customer"
                                else "") for m in hybrid.models]}  # type: ignore[attr-defined]


def _float64_ease(gram: np.ndarray, penalty: np.ndarray, *, zero_diagonal: bool,
                  threads: int | None) -> np.ndarray:
    """The previous EASE path (float64 LU inverse), for the side-by-side nDCG."""
    G = gram.astype(np.float64)
    G[np.diag_indices_from(G)] += penalty
    P = np.linalg.inv(G)
    if zero_diagonal:
        B = -P / np.diag(P)[None, :]
        np.fill_diagonal(B, 0.0)
    else:
        B = -P * penalty[None, :]
        B[np.diag_indices_from(B)] += 1.0
    return B.astype(np.float32)


def child_hybrid_ndcg(variant: str) -> dict[str, Any]:
    """nDCG@10 of the default on Online Retail's test weeks (``float64``: previous EASE)."""
    import tailorcrm.recommend.ease as ease_module
    from tailorcrm.evaluation.runner import evaluate
    from tailorcrm.recommend.default import default_recommender

    if variant == "float64":
        ease_module.ease_weights = _float64_ease  # type: ignore[assignment]
    result = evaluate(retail_dataset(1), _retail_config(), dataset="UCI Online Retail",
                      models={"default": default_recommender()})
    m = result["models"]["default"]
    return {"ndcg@10": m["ndcg@10"], "map": m["map"], "train_seconds": m["train_seconds"],
            "train_cpu_seconds": m["train_cpu_seconds"]}


# -- the swap's accuracy cost (validation carves) ----------------------------------------
def child_swap(dataset: str) -> dict[str, Any]:
    """nDCG@10 with and without the EASE parts on a validation carve of the training part."""
    from tailorcrm.evaluation.loaders import read_movielens
    from tailorcrm.evaluation.runner import EvaluationConfig, evaluate, split
    from tailorcrm.recommend.default import default_recommender

    data: Any
    if dataset == "ml100k":
        config = EvaluationConfig(protocol="stratified-item", ratio=0.75, seed=42, k=10,
                                  include_default=False, models={})
        events = read_movielens(DATA_DIR / "movielens-100k" / "u.data")
        data = split(events, config)[0]  # the training part; evaluate carves it again
    else:
        config = _retail_config()
        full = retail_dataset(1)
        data = full.with_events(split(full.events, config)[0])
    result = evaluate(data, config, dataset=f"{dataset} (validation carve of train)",
                      models={"default": default_recommender(),
                              "without EASE": default_recommender(ease_max_size=1)})
    return {name: {"ndcg@10": m["ndcg@10"], "train_seconds": m["train_seconds"],
                   "train_cpu_seconds": m["train_cpu_seconds"]}
            for name, m in result["models"].items()}


# -- ingest -------------------------------------------------------------------------------
def retail_file(scale: int, folder: Path) -> Path:
    """Online Retail's CSV repeated ``scale`` times, copy k with CustomerID + k·100,000 and
    StockCode + "~k" (every line distinct, so every copy is new to the idempotency keys)."""
    if scale == 1:
        return RETAIL
    path = folder / f"online_retail_x{scale}.csv.gz"
    if path.exists():
        return path
    raw = pd.read_csv(RETAIL, dtype=str, keep_default_na=False)
    parts = []
    for k in range(scale):
        part = raw.copy()
        if k:
            ids = pd.to_numeric(part["CustomerID"], errors="coerce") + 100_000 * k
            part["CustomerID"] = ids.map(lambda v: "" if np.isnan(v) else str(int(v)))
            part["StockCode"] = part["StockCode"] + f"~{k}"
        parts.append(part)
    with gzip.open(path, "wt", compresslevel=1, newline="") as fh:
        pd.concat(parts).to_csv(fh, index=False)
    return path


def child_ingest(kind: str, url: str, path: str) -> dict[str, Any]:
    """One import of ``path`` through the online-retail mapping (or DuckDB's read_csv)."""
    if kind == "duckdb":
        import duckdb

        con = duckdb.connect(url)
        with Timed() as t:
            con.execute("CREATE TABLE lines AS SELECT * FROM read_csv(?, header = true, "
                        "types = {'InvoiceNo': 'VARCHAR', 'StockCode': 'VARCHAR', "
                        "'CustomerID': 'VARCHAR'})", [path])
            con.execute("CHECKPOINT")
        rows = con.execute("SELECT count(*) FROM lines").fetchone()[0]  # type: ignore[index]
        return {**t.result(), "rows": rows, "loaded": rows}
    from tailorcrm.ingest.mapping import load_mapping
    from tailorcrm.ingest.service import run_import
    from tailorcrm.settings import Settings
    from tailorcrm.store import Store

    store = Store.open(url)
    tid = store.tenants.ensure("bench")
    mapping = load_mapping("online-retail")
    with Timed() as t:
        report = run_import(store, tid, "events", Path(path), mapping,
                            chunk_rows=Settings.load().import_chunk_rows).report
    again = run_import(store, tid, "events", Path(path), mapping).report  # idempotent
    store.close()
    return {**t.result(), "rows": report.rows_read, "loaded": report.rows_loaded,
            "rejected": report.rows_rejected, "reimport_loaded": again.rows_loaded}


def _postgres_db(admin_url: str) -> tuple[str, Any]:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    name = f"bench_speed_{uuid.uuid4().hex[:8]}"
    engine = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with engine.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        engine.dispose()

    return make_url(admin_url).set(database=name).render_as_string(hide_password=False), drop


# -- orchestration ------------------------------------------------------------------------
def run_child(*args: str) -> dict[str, Any]:
    out = subprocess.run([sys.executable, __file__, "--child", *args], check=True,
                         capture_output=True, text=True, cwd=ROOT)
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def _load() -> dict[str, float]:
    one, five, _ = os.getloadavg()
    return {"load_1min": one, "load_5min": five}


def part_ease() -> dict[str, Any]:
    rows = []
    for dataset in ("ml100k", *(f"synth{SYNTH_ITEMS[s]}" for s in SCALES)):
        for threads in ("1", "2") if dataset == f"synth{SYNTH_ITEMS[4]}" else ("1",):
            for impl in ("peer", "ours"):  # alternated, best of two
                runs = [run_child("ease", impl, dataset, threads) for _ in range(2)]
                best = min(runs, key=lambda r: r["seconds"])
                rows.append({"impl": impl, "dataset": dataset, **best, **_load(),
                             "all_seconds": [r["seconds"] for r in runs]})
    return {"rows": rows}


def part_hybrid() -> dict[str, Any]:
    fits = [{"scale": s, **run_child("hybrid", str(s)), **_load()} for s in SCALES]
    ndcg = {v: run_child("hybrid_ndcg", v) for v in ("float32", "float64")}
    return {"fits": fits, "ndcg": ndcg}


def part_swap() -> dict[str, Any]:
    return {d: run_child("swap", d) for d in ("ml100k", "online_retail")}


def part_ingest() -> dict[str, Any]:
    rows = []
    admin = os.environ.get("TAILORCRM_TEST_POSTGRES_URL")
    with tempfile.TemporaryDirectory(prefix="bench-speed-") as tmp:
        folder = Path(tmp)
        for scale in SCALES:
            path = str(retail_file(scale, folder))
            rows.append({"scale": scale, "target": "duckdb", **_load(),
                         **run_child("ingest", "duckdb", str(folder / f"d{scale}.duckdb"), path)})
            rows.append({"scale": scale, "target": "sqlite", **_load(), **run_child(
                "ingest", "tailorcrm", f"sqlite:///{folder / f's{scale}.db'}", path)})
            if admin:
                url, drop = _postgres_db(admin)
                try:
                    rows.append({"scale": scale, "target": "postgresql", **_load(),
                                 **run_child("ingest", "tailorcrm", url, path)})
                finally:
                    drop()
    return {"rows": rows}


PARTS = {"ease": part_ease, "hybrid": part_hybrid, "swap": part_swap, "ingest": part_ingest}
CHILDREN = {"ease": child_ease, "hybrid": child_hybrid, "hybrid_ndcg": child_hybrid_ndcg,
            "swap": child_swap, "ingest": child_ingest}


def main() -> int:
    if len(sys.argv) > 2 and sys.argv[1] == "--child":
        print(json.dumps(CHILDREN[sys.argv[2]](*sys.argv[3:])))
        return 0
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--parts", nargs="*", default=list(PARTS), choices=list(PARTS))
    args = parser.parse_args()
    if not RETAIL.is_file():
        print(f"skipped: {RETAIL} not found (set TAILORCRM_DATA_DIR)", file=sys.stderr)
        return 0
    previous = RESULTS / f"{NAME}.json"
    result: dict[str, Any] = json.loads(previous.read_text()) if previous.exists() else {}
    for name in args.parts:
        started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
        result[name] = {**PARTS[name](), "started": started}
    result["machine"] = machine()
    result["command"] = ".venv/bin/python benchmarks/bench_offline_speed.py"
    write_results(NAME, result, markdown(result))
    sys.stdout.write(markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
