"""Spark (local mode) vs single node: train and precompute time of the Spark hybrid.

The same model on both paths: ``fallback[hybrid(ALS 0.7, item-kNN cosine 0.3, std),
popularity]`` (``SparkModelsConfig`` defaults), and every customer's top-10 list made by the
serving pipeline. Single node: the classes fitted on a ``Dataset`` and ``precompute_lists``.
Spark ``local[2]``: ``fit_on_spark`` (MLlib ALS, ``columnSimilarities``, aggregations) and
``spark_lists`` (the pipeline on the executors), counted (materialised, not written back).
Both read the same tenant: the Spark path the Parquet export layout (written here from the
same frames, so the store's export and write-back, measured in docs/scale-out.md, are
outside the figures).

Data: MovieLens 100K (``TAILORCRM_DATA_DIR``) and a generated tenant with planted taste
groups at 1 M and 5 M events (25 events per customer, 5,000 items). Wall seconds; Spark's
include its job scheduling, not the JVM start (a warm-up run comes first).

Run alone: ``.venv/bin/python benchmarks/bench_spark.py [--sizes 1000000 5000000]``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from results_io import machine, write_results  # noqa: E402

ROOT = HERE.parent
COMMAND = ".venv/bin/python benchmarks/bench_spark.py"
EVENTS_PER_CUSTOMER = 25
N_ITEMS = 5_000
GROUPS = 40


def data_dir() -> Path:
    return Path(os.environ.get("TAILORCRM_DATA_DIR", ROOT.parent / "shared" / "data"))


def synthetic_events(n_events: int, seed: int = 0) -> pd.DataFrame:
    """Purchases with planted structure: each customer belongs to one of ``GROUPS`` taste
    groups and buys 80 % from its group's 125 items, 20 % from a Zipf-popular catalog."""
    rng = np.random.default_rng(seed)
    n_customers = n_events // EVENTS_PER_CUSTOMER
    group = rng.integers(0, GROUPS, n_customers)
    customer = rng.integers(0, n_customers, n_events)
    own = rng.random(n_events) < 0.8
    per_group = N_ITEMS // GROUPS
    item = np.where(own, group[customer] * per_group + rng.integers(0, per_group, n_events),
                    np.minimum(rng.zipf(1.3, n_events) - 1, N_ITEMS - 1))
    start = pd.Timestamp("2025-01-01", tz="UTC").value // 1000
    ts = start + rng.integers(0, 365 * 86_400_000_000, n_events)
    return pd.DataFrame({"customer_id": [f"c{c:07d}" for c in customer],
                         "item_id": [f"i{i:05d}" for i in item], "type": "purchase",
                         "value": 1.0, "ts": pd.to_datetime(ts, unit="us", utc=True)})


def movielens_events() -> pd.DataFrame:
    from tailorcrm.evaluation.loaders import read_movielens

    return read_movielens(data_dir() / "movielens-100k" / "u.data")


def write_export(events: pd.DataFrame, folder: Path) -> None:
    """The Parquet layout of ``store/parquet_export.py`` for ``events`` (no attributes)."""
    from tailorcrm.schema.event_types import DEFAULT_EVENT_TYPES
    from tailorcrm.store.parquet_export import EVENTS_SCHEMA

    (folder / "events").mkdir(parents=True)
    customers = pd.DataFrame({"customer_id": sorted(events["customer_id"].unique())})
    customers["consent_personalization"] = "unknown"
    customers["consent_marketing"] = "unknown"
    customers["attributes"] = "{}"
    items = pd.DataFrame({"item_id": sorted(events["item_id"].unique())})
    items["title"], items["description"], items["price"] = "", "", np.nan
    items["categories"] = [[] for _ in range(len(items))]
    items["available"], items["attributes"] = True, "{}"
    pq.write_table(pa.Table.from_pandas(customers, preserve_index=False),
                   folder / "customers.parquet")
    pq.write_table(pa.Table.from_pandas(items, preserve_index=False), folder / "items.parquet")
    step = 1_000_000
    for part, start in enumerate(range(0, len(events), step)):
        chunk = events.iloc[start:start + step].assign(
            id=np.arange(start, start + min(step, len(events) - start), dtype=np.int64))
        pq.write_table(pa.Table.from_pandas(chunk, schema=EVENTS_SCHEMA, preserve_index=False),
                       folder / "events" / f"part-{part:05d}.parquet")
    manifest = {"tenant_id": 1, "customers": len(customers), "items": len(items),
                "events": len(events), "fields": [],
                "event_types": [t.model_dump(mode="json") for t in DEFAULT_EVENT_TYPES]}
    (folder / "manifest.json").write_text(json.dumps(manifest))


def single_node(events: pd.DataFrame) -> dict[str, float]:
    from tailorcrm.customize.pipeline import Pipeline
    from tailorcrm.customize.precompute import precompute_lists
    from tailorcrm.customize.strategies import Strategy
    from tailorcrm.data.dataset import Dataset
    from tailorcrm.recommend.als import ALS
    from tailorcrm.recommend.fallback import FallbackChain
    from tailorcrm.recommend.hybrid import Hybrid
    from tailorcrm.recommend.itemknn import ItemKNN
    from tailorcrm.recommend.popularity import Popularity
    from tailorcrm.recommend.ranking_config import RankingConfig
    from tailorcrm.spark.assemble import SparkModelsConfig

    cfg = SparkModelsConfig()
    data = Dataset.from_events(events)
    start = time.perf_counter()
    model = FallbackChain.of([
        Hybrid.of([(ALS(cfg.als), cfg.als_weight), (ItemKNN(cfg.itemknn), cfg.itemknn_weight)],
                  normalize="std"),
        Popularity(cfg.popularity)]).fit(data)
    fit = time.perf_counter() - start
    start = time.perf_counter()
    pipeline = Pipeline.build(Strategy(name="default"), model, data, chosen=RankingConfig())
    rows, _ = precompute_lists(pipeline, [str(c) for c in data.customer_vocab.ids],
                               model_version="bench", config_hash="bench")
    pre = time.perf_counter() - start
    assert len(rows) == data.n_customers
    return {"train_s": round(fit, 2), "precompute_s": round(pre, 2),
            "total_s": round(fit + pre, 2)}


def spark_path(folder: Path, work: Path) -> dict[str, float]:
    from tailorcrm.customize.rules import RuleSet
    from tailorcrm.customize.strategies import Strategy
    from tailorcrm.recommend.ranking_config import RankingConfig
    from tailorcrm.spark.assemble import SparkModelsConfig
    from tailorcrm.spark.engine import SparkConfig, spark_session
    from tailorcrm.spark.job import fit_on_spark
    from tailorcrm.spark.precompute import PrecomputeContext, spark_lists
    from tailorcrm.spark.tenant import read_export
    from tailorcrm.store.parquet_export import from_export

    spark = spark_session(SparkConfig(master="local[2]"))
    start = time.perf_counter()
    tenant = read_export(spark, folder)
    _, trained, user_factors, segment_of = fit_on_spark(tenant, SparkModelsConfig(), work, 1,
                                                        f"v{time.time_ns()}")
    fit = time.perf_counter() - start
    start = time.perf_counter()
    ctx = PrecomputeContext(trained=trained, items=from_export(tenant.items.toPandas(), [],
                                                               "item_id"),
                            item_vocab=tenant.item_vocab, fields=tenant.fields,
                            event_types=tenant.event_types, strategy=Strategy(name="default"),
                            rules=RuleSet(), ranking=RankingConfig(), model_version="bench",
                            config_hash="bench")
    n = spark_lists(tenant, ctx, user_factors, segment_of).count()
    pre = time.perf_counter() - start
    assert n == tenant.n_customers
    return {"train_s": round(fit, 2), "precompute_s": round(pre, 2),
            "total_s": round(fit + pre, 2)}


def measure(name: str, events: pd.DataFrame, work: Path) -> dict[str, Any]:
    folder = work / name
    write_export(events, folder)
    local = single_node(events)
    spark = spark_path(folder, work / f"{name}-artifacts")
    shutil.rmtree(folder, ignore_errors=True)
    out = {"data": name, "events": len(events), "customers": int(events["customer_id"].nunique()),
           "items": int(events["item_id"].nunique()), "single_node": local, "spark": spark,
           "ratio_total": round(spark["total_s"] / max(local["total_s"], 1e-9), 1)}
    print(json.dumps(out), flush=True)
    return out


def markdown(result: dict[str, Any]) -> str:
    lines = ["## Spark local vs single node (train + precompute)", "",
             f"`{COMMAND}` — {result['note']}", "",
             "| data | events | customers | single-node train / precompute (s) | "
             "Spark local[2] train / precompute (s) | Spark ÷ single node |",
             "|---|---|---|---|---|---|"]
    for r in result["runs"]:
        s, k = r["single_node"], r["spark"]
        lines.append(f"| {r['data']} | {r['events']:,} | {r['customers']:,} | "
                     f"{s['train_s']} / {s['precompute_s']} | {k['train_s']} / "
                     f"{k['precompute_s']} | {r['ratio_total']}× |")
    growth = result.get("growth")
    if growth:
        lines += ["", f"Growth from {growth['from']:,} to {growth['to']:,} events "
                      f"({growth['factor']}× the data): single node ×{growth['single_node']}, "
                      f"Spark ×{growth['spark']}."]
    lines += ["", "Single node stays the faster choice on one machine; the Spark path is for "
                  "tenants one machine cannot hold (docs/scale-out.md).", ""]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", nargs="*", type=int, default=[1_000_000, 5_000_000])
    parser.add_argument("--note", default="2 cores, nothing else running")
    args = parser.parse_args()
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        # warm-up: JVM start, Python workers, MLlib classes (not counted)
        spark_path_warm = work / "warm"
        write_export(synthetic_events(20_000, seed=9), spark_path_warm)
        spark_path(spark_path_warm, work / "warm-artifacts")
        ml = data_dir() / "movielens-100k" / "u.data"
        if ml.exists():
            runs.append(measure("MovieLens 100K", movielens_events(), work))
        for size in args.sizes:
            runs.append(measure(f"synthetic {size / 1e6:g}M", synthetic_events(size), work))
    result: dict[str, Any] = {"machine": machine(), "note": args.note, "runs": runs}
    synth = [r for r in runs if r["data"].startswith("synthetic")]
    if len(synth) >= 2:
        a, b = synth[0], synth[-1]
        result["growth"] = {
            "from": a["events"], "to": b["events"], "factor": round(b["events"] / a["events"], 1),
            "single_node": round(b["single_node"]["total_s"] / a["single_node"]["total_s"], 1),
            "spark": round(b["spark"]["total_s"] / a["spark"]["total_s"], 1)}
    write_results("spark", result, markdown(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
