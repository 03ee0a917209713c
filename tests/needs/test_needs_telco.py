"""Real data: the default need pipeline on IBM Telco through its mapping, one stratified split."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split

from tailorcrm.ingest.mapping import load_mapping
from tailorcrm.ingest.service import run_import
from tailorcrm.needs.definitions import LabelNeed
from tailorcrm.needs.model import NeedModel
from tailorcrm.store import Store


@pytest.mark.realdata
def test_telco_churn_roc_auc_on_one_split(data_dir: Path, sqlite_url: str) -> None:
    store = Store.open(sqlite_url)
    try:
        tid = store.tenants.ensure("telco")
        csv = data_dir / "ibm-telco-customer-churn" / "Telco-Customer-Churn.csv"
        run_import(store, tid, "customers", csv, load_mapping("telco-churn"))
        data = store.load_dataset(tid)
    finally:
        store.close()
    need = LabelNeed(name="churn", field="churn")  # boolean label field of the mapping
    y = need.labels(data)
    assert len(y) == 7043 and abs(y.mean() - 0.2654) < 0.001
    model = NeedModel(need)
    frame = model.frame(data, y.index, None)
    assert "churn" not in frame.columns and frame.shape[1] == 19
    tr, te = train_test_split(np.arange(len(y)), test_size=0.2, stratify=y, random_state=42)
    model.fit_frame(frame.iloc[tr], y.iloc[tr])
    auc = roc_auc_score(y.iloc[te], model.predict(frame.iloc[te]))
    assert auc >= 0.84, auc
