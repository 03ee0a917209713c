"""Real data: the default need pipeline on IBM Telco, fields only, one stratified split."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split

from tailorcrm.data.dataset import Dataset
from tailorcrm.needs.definitions import LabelNeed
from tailorcrm.needs.model import NeedModel
from tailorcrm.schema.fields import FieldSpec, FieldType


def _telco(path: Path) -> Dataset:
    """The file as the Telco mapping types it (19 feature fields, the label field)."""
    raw = pd.read_csv(path, dtype=str, keep_default_na=False)
    customers = pd.DataFrame(index=pd.Index(raw["customerID"], name="customer_id"))
    specs = []
    for col in raw.columns.drop("customerID"):
        name = re.sub(r"(?<=[a-z])(?=[A-Z])", "_", col).lower()
        values = raw[col].str.strip().replace("", np.nan)
        if col in ("tenure", "MonthlyCharges", "TotalCharges"):
            kind = FieldType.INTEGER if col == "tenure" else FieldType.NUMBER
            customers[name] = pd.to_numeric(values).to_numpy()
            specs.append(FieldSpec(entity="customer", name=name, type=kind, feature=True))
        elif col == "SeniorCitizen":
            customers[name] = (values == "1").to_numpy()
            specs.append(FieldSpec(entity="customer", name=name, type=FieldType.BOOLEAN,
                                   feature=True))
        else:
            customers[name] = values.to_numpy(dtype=object)
            specs.append(FieldSpec(entity="customer", name=name, type=FieldType.ENUM,
                                   enum_values=tuple(sorted(values.dropna().unique())),
                                   feature=col != "Churn"))
    items = pd.DataFrame(index=pd.Index([], name="item_id", dtype=object))
    return Dataset(customers=customers, items=items, customer_fields=tuple(specs))


@pytest.mark.realdata
def test_telco_churn_roc_auc_on_one_split(data_dir: Path) -> None:
    data = _telco(data_dir / "ibm-telco-customer-churn" / "Telco-Customer-Churn.csv")
    need = LabelNeed(name="churn", field="churn", positive=("Yes",))
    y = need.labels(data)
    model = NeedModel(need)
    frame = model.frame(data, y.index, None)
    tr, te = train_test_split(np.arange(len(y)), test_size=0.2, stratify=y, random_state=42)
    model.fit_frame(frame.iloc[tr], y.iloc[tr])
    auc = roc_auc_score(y.iloc[te], model.predict(frame.iloc[te]))
    assert auc >= 0.84, auc
