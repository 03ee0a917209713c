"""IBM Telco churn: our default need pipeline (fields only) vs plain LogisticRegression/LightGBM.

Protocol: 5-fold stratified CV (shuffle, seed 42) over all 7,043 customers (in the order
the store loads them; the peers use the same folds). Our pipeline sees the file only
through the shipped ``telco-churn`` mapping, imported into a fresh SQLite store: 19 typed
customer fields flagged ``feature`` and the boolean label field ``churn``. No hand
feature engineering: the encoding follows the field types, the learner is chosen on folds
inside each training part. Peers get a hand one-hot encoding of the same columns
(``pandas.get_dummies``; blank TotalCharges filled with the training median).
"""

from __future__ import annotations

import json
import logging
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score
from sklearn.model_selection import StratifiedKFold

from results_io import write_results
from tailorcrm.data.dataset import Dataset
from tailorcrm.ingest.mapping import load_mapping
from tailorcrm.ingest.service import run_import
from tailorcrm.needs.baseline import Baseline
from tailorcrm.needs.definitions import LabelNeed
from tailorcrm.needs.model import NeedModel
from tailorcrm.store import Store

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
NAME = "needs-telco"
DATA_DIR = Path(os.environ.get("TAILORCRM_DATA_DIR", HERE.parent.parent / "shared" / "data"))
CSV = DATA_DIR / "ibm-telco-customer-churn" / "Telco-Customer-Churn.csv"
COMMAND = ".venv/bin/python benchmarks/bench_needs_telco.py"
log = logging.getLogger(NAME)


def telco_dataset(path: Path, workdir: Path) -> Dataset:
    """The file imported through the shipped ``telco-churn`` mapping into a fresh SQLite
    store, then loaded back as a Dataset (typed fields flagged ``feature``, label ``churn``)."""
    store = Store.open(f"sqlite:///{workdir / 'telco.db'}")
    try:
        tid = store.tenants.ensure("telco")
        run_import(store, tid, "customers", path, load_mapping("telco-churn"))
        return store.load_dataset(tid)
    finally:
        store.close()


def hand_one_hot(path: Path, order: pd.Index) -> tuple[pd.DataFrame, np.ndarray]:
    """The peers' matrix (rows in ``order``): numeric columns as they are, others one-hot."""
    raw = pd.read_csv(path).set_index("customerID").loc[order].reset_index()
    y = (raw["Churn"] == "Yes").to_numpy(dtype=int)
    X = raw.drop(columns=["customerID", "Churn"])
    X["TotalCharges"] = pd.to_numeric(X["TotalCharges"], errors="coerce")
    return pd.get_dummies(X, dtype=float), y


def _metrics(y: np.ndarray, p: np.ndarray, seconds: float) -> dict[str, float]:
    return {"roc_auc": float(roc_auc_score(y, p)), "pr_auc": float(average_precision_score(y, p)),
            "brier": float(brier_score_loss(y, p)), "fit_seconds": round(seconds, 3)}


def run() -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        data = telco_dataset(CSV, Path(tmp))
    need = LabelNeed(name="churn", field="churn")  # the mapping's boolean label field
    y = need.labels(data)
    probe = NeedModel(need)
    frame = probe.frame(data, y.index, None)
    Xh, yh = hand_one_hot(CSV, y.index)
    assert (yh == y.to_numpy()).all()
    yv = y.to_numpy()
    preds = {k: np.zeros(len(yv)) for k in ("default", "baseline", "logistic_regression",
                                            "lightgbm")}
    seconds = dict.fromkeys(preds, 0.0)
    chosen = []
    folds = StratifiedKFold(5, shuffle=True, random_state=42)
    for tr, te in folds.split(frame, yv):
        model = NeedModel(need)
        model.specs_ = probe.specs_
        start = time.perf_counter()
        model.fit_frame(frame.iloc[tr], y.iloc[tr])
        seconds["default"] += time.perf_counter() - start
        chosen.append(model.algorithm_)
        preds["default"][te] = model.predict(frame.iloc[te])
        start = time.perf_counter()
        base = Baseline(need).fit(frame.iloc[tr], model.builder_.transform(frame.iloc[tr]),
                                  model.builder_.sources_, yv[tr].astype(float))
        seconds["baseline"] += time.perf_counter() - start
        preds["baseline"][te] = base.predict(frame.iloc[te],
                                             model.builder_.transform(frame.iloc[te]))
        Xtr, Xte = Xh.iloc[tr].copy(), Xh.iloc[te].copy()
        median = Xtr["TotalCharges"].median()
        Xtr["TotalCharges"] = Xtr["TotalCharges"].fillna(median)
        Xte["TotalCharges"] = Xte["TotalCharges"].fillna(median)
        for name, est in (("logistic_regression", LogisticRegression(max_iter=1000)),
                          ("lightgbm", lgb.LGBMClassifier(verbose=-1, n_jobs=1))):
            start = time.perf_counter()
            est.fit(Xtr, yh[tr])
            seconds[name] += time.perf_counter() - start
            preds[name][te] = est.predict_proba(Xte)[:, 1]
    models = {k: _metrics(yv, p, seconds[k]) for k, p in preds.items()}
    return {"dataset": "IBM Telco Customer Churn (7,043 customers, 26.5% churn)",
            "protocol": "5-fold stratified CV (shuffle, seed 42); default pipeline fed only "
                        "through the telco-churn mapping (SQLite import, fields only); peers "
                        "on a hand one-hot encoding of the same file",
            "models": models, "default_algorithms": chosen,
            "baseline_kind": "best single field (one-field logistic regression)",
            "machine": f"{os.cpu_count()} cores, Python {platform.python_version()}"}


def markdown(result: dict[str, Any]) -> str:
    m = result["models"]
    peers = ("logistic_regression", "lightgbm")
    best_brier = min(m[p]["brier"] for p in peers)
    best_auc = max(m[p]["roc_auc"] for p in peers)
    rows = "\n".join(
        f"| {k} | {v['roc_auc']:.4f} | {v['roc_auc'] / best_auc:.3f} | {v['pr_auc']:.4f} | "
        f"{v['brier']:.4f} | {v['fit_seconds']:.1f} |" for k, v in m.items())
    d = m["default"]
    met = d["roc_auc"] >= 0.85 and d["brier"] <= best_brier
    verdict = ("met" if met else
               f"not met (ROC-AUC {d['roc_auc']:.4f} vs 0.85, Brier {d['brier']:.4f} vs best "
               f"peer {best_brier:.4f})")
    return f"""## Needs: IBM Telco churn (label need from a field)

{result['protocol']}. The default pipeline chose per fold: {', '.join(result['default_algorithms'])}
(logistic = logistic regression with cubic splines on numbers; blend = the average of its
log-odds and LightGBM's). Baseline: {result['baseline_kind']}. Peers: scikit-learn
`LogisticRegression(max_iter=1000)` and `LGBMClassifier()` with default settings. Fit seconds
are summed over the 5 folds ({result['machine']}); the default's include its inner 5-fold
selection and calibration.

| model | ROC-AUC | vs best peer | PR-AUC | Brier | fit s (5 folds) |
|---|---|---|---|---|---|
{rows}

**Goal (ROC-AUC ≥ 0.85 and Brier no worse than the best peer, fields only): {verdict}.**
Measured: ROC-AUC {d['roc_auc']:.4f}, Brier {d['brier']:.4f} (best peer Brier {best_brier:.4f}).

Command: `{COMMAND}` (results: `benchmarks/results/{NAME}.json`).
"""


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    if not CSV.exists():
        log.error("missing %s (set TAILORCRM_DATA_DIR)", CSV)
        return 1
    result = run()
    write_results(NAME, result, markdown(result))
    log.info("%s", json.dumps(result["models"]["default"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
