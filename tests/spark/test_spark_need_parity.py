"""Real data: MLlib and scikit-learn logistic regression on IBM Telco agree to ROC-AUC ± 0.005.

A quarter of the customers (seed 42) lose their churn label before the import; both engines
train the label need on the rest with the same features and objective, and both models'
scores of the held-out quarter are graded against the true labels.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from tailorcrm.ingest.mapping import load_mapping
from tailorcrm.ingest.service import run_import
from tailorcrm.needs.definitions import LabelNeed
from tailorcrm.needs.model import ModelConfig, NeedModel
from tailorcrm.store import Store


@pytest.mark.realdata
def test_telco_auc_parity(spark: Any, data_dir: Path, tmp_path: Path) -> None:
    from tailorcrm.spark.job import SparkTrainConfig, read_tenant
    from tailorcrm.spark.needs import fit_need_spark

    raw = pd.read_csv(data_dir / "ibm-telco-customer-churn" / "Telco-Customer-Churn.csv",
                      dtype=str, keep_default_na=False)
    held = np.random.default_rng(42).random(len(raw)) < 0.25
    truth = pd.Series((raw["Churn"][held] == "Yes").astype(int).to_numpy(),
                      index=raw["customerID"][held])
    raw.loc[held, "Churn"] = ""
    raw.to_csv(tmp_path / "telco.csv", index=False)
    with Store.open(f"sqlite:///{tmp_path / 't.db'}") as store:
        tid = store.tenants.ensure("telco")
        run_import(store, tid, "customers", tmp_path / "telco.csv", load_mapping("telco-churn"))
        data = store.load_dataset(tid)
        need = LabelNeed(name="churn", field="churn")
        assert len(need.labels(data)) == int((~held).sum())
        tenant, _ = read_tenant(store, tid, SparkTrainConfig(), tmp_path / "art", "parity")
        spark_model = fit_need_spark(tenant, need).model
    local = NeedModel(need, ModelConfig(algorithm="logistic")).fit(data)
    ids = pd.Index(truth.index)
    auc = {name: roc_auc_score(truth.to_numpy(), m.predict(m.frame(data, ids, None)))
           for name, m in (("spark", spark_model), ("local", local))}
    assert auc["local"] > 0.83, auc
    assert abs(auc["spark"] - auc["local"]) <= 0.005, auc
