"""UCI Online Retail next-purchase benchmark: the default hybrid vs popularity and item-kNN.

The raw CSV is read with pandas (InvoiceNo/StockCode as strings); rows without CustomerID
and non-product stock codes (POST, M, D, C2, DOT, CRUK, BANK CHARGES, PADS: codes not
starting with a digit) are dropped; cancellations (InvoiceNo ``C…``) become ``return`` events
(negative weight, never relevant); other non-positive quantities are dropped. The last 8
weeks are held out. Relevant: items a customer bought in those 8 weeks that they had not
bought before (bought items are excluded from every list, so a repurchase could never be
hit); evaluated: customers with purchases before the cut-off.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from results_io import machine, write_results
from tailorcrm.data.dataset import Dataset
from tailorcrm.evaluation.runner import EvaluationConfig, ModelSpec, Scorer, evaluate

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
NAME = "online_retail_recs"
DATA_DIR = Path(os.environ.get("TAILORCRM_DATA_DIR", HERE.parent.parent / "shared" / "data"))
COMMAND = ".venv/bin/python benchmarks/bench_online_retail_recs.py"
log = logging.getLogger(NAME)


def load(path: Path) -> Dataset:
    """Events, items (title = description, price) and customers (country) of the log."""
    raw = pd.read_csv(path, dtype={"InvoiceNo": str, "StockCode": str, "Description": str,
                                   "Country": str})
    raw = raw.dropna(subset=["CustomerID"])
    raw = raw[raw["StockCode"].str[0].str.isdigit()]
    cancelled = raw["InvoiceNo"].str.startswith("C")
    raw = raw[cancelled | (raw["Quantity"] > 0)]
    cancelled = raw["InvoiceNo"].str.startswith("C")
    events = pd.DataFrame({
        "customer_id": raw["CustomerID"].astype(np.int64).astype(str).to_numpy(),
        "item_id": raw["StockCode"].to_numpy(dtype=object),
        "type": np.where(cancelled, "return", "purchase"),
        "value": raw["Quantity"].abs().to_numpy(dtype=float),
        "ts": pd.to_datetime(raw["InvoiceDate"], utc=True).to_numpy(),
    }).sort_values("ts", kind="stable").reset_index(drop=True)
    firsts = raw.groupby("StockCode").agg(title=("Description", "first"),
                                          price=("UnitPrice", "median"))
    items = pd.DataFrame(index=pd.Index(firsts.index.astype(str), name="item_id"))
    items["title"] = firsts["title"].fillna("").to_numpy(dtype=object)
    items["description"] = ""
    items["categories"] = [[] for _ in range(len(items))]
    items["price"] = firsts["price"].to_numpy(dtype=float)
    items["available"] = True
    countries = raw.groupby("CustomerID")["Country"].agg("last")
    customers = pd.DataFrame(index=pd.Index(countries.index.astype(np.int64).astype(str),
                                            name="customer_id"))
    customers["consent_personalization"] = "unknown"
    customers["consent_marketing"] = "unknown"
    customers["country"] = countries.to_numpy(dtype=object)
    return Dataset.from_events(events, customers=customers, items=items)


def _markdown(result: dict[str, Any]) -> str:
    models = result["models"]
    pop = models.get("popularity", {}).get("ndcg@10", np.nan)
    lines = [
        "## UCI Online Retail: next-purchase recommendation (last 8 weeks held out)",
        "",
        f"{result['n_train_events']} train / {result['n_test_events']} test events; relevant = "
        "items first bought in the held-out weeks; "
        f"{int(next(iter(models.values()))['n_customers'])} returning customers evaluated; lists "
        f"made (and timed) for all {int(next(iter(models.values()))['n_recommended'])} "
        "customers. Peak memory is the growth of resident memory during fit + recommend.",
        "",
        "| model | nDCG@10 | vs popularity | P@10 | R@10 | MAP | coverage | train s (CPU s) "
        "| recommend s (all) | peak MB |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, m in sorted(models.items(), key=lambda kv: -kv[1]["ndcg@10"]):
        lines.append(
            f"| {name} | {m['ndcg@10']:.4f} | {m['ndcg@10'] / pop:.2f} | "
            f"{m['precision@10']:.4f} | {m['recall@10']:.4f} | {m['map']:.4f} | "
            f"{m['coverage']:.3f} | {m['train_seconds']:.2f} ({m['train_cpu_seconds']:.2f}) | "
            f"{m['recommend_seconds']:.2f} | "
            f"{m['peak_memory_mb']:.0f} |")
    if "default_error" in result:
        lines += ["", f"The default hybrid was not available: {result['default_error']}."]
    lines += ["", f"Command: `{COMMAND}` on {os.cpu_count()} cores "
              f"(results: `benchmarks/results/{NAME}.json`)."]
    return "\n".join(lines) + "\n"


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    data = load(DATA_DIR / "uci-online-retail" / "online_retail.csv.gz")
    config = EvaluationConfig(
        protocol="cutoff", holdout_weeks=8.0, k=10, truth="new_items", warm_only=True,
        include_default=False,
        models={"popularity": ModelSpec(kind="popularity"),
                "itemknn (cosine)": ModelSpec(kind="itemknn", config={"similarity": "cosine"}),
                "itemknn (bm25)": ModelSpec(kind="itemknn", config={"similarity": "bm25"})})
    extra: dict[str, Scorer] = {}
    default_error = ""
    try:
        from tailorcrm.evaluation.runner import default_model

        extra["default"] = default_model()
    except Exception as exc:  # the benchmark still reports every other model
        default_error = str(exc)
        log.warning("default hybrid unavailable: %s", exc)
    from bench_movielens import ImplicitPeer

    extra["peer: implicit BM25 item-kNN"] = ImplicitPeer("bm25")
    result = evaluate(data, config, dataset="UCI Online Retail", models=extra)
    if default_error:
        result["default_error"] = default_error
    result["command"] = COMMAND
    result["machine"] = machine()
    write_results(NAME, result, _markdown(result))
    sys.stdout.write(_markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
