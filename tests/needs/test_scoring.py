"""Scores persisted per customer with model version and reasons; artifacts without pickle."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from demo_tenant import seed_demo

from tailorcrm.errors import NotFoundError
from tailorcrm.needs.definitions import ChurnNeed
from tailorcrm.needs.model import ModelConfig
from tailorcrm.needs.scoring import load_active, publish, score_customers
from tailorcrm.needs.training import train_need
from tailorcrm.store import Store


def test_publish_stores_scores_and_activates_the_model(database_url: str,
                                                       tmp_path: Path) -> None:
    store = Store.open(database_url)
    try:
        tid = seed_demo(store)
        data = store.load_dataset(tid)
        need = ChurnNeed(name="churn", horizon_days=90)
        with pytest.raises(NotFoundError):
            load_active(store, tid, "churn")
        model = train_need(data, need, ModelConfig(inner_folds=3))
        version, n = publish(store, tid, model, data, tmp_path)
        assert n == len(data.customers)
        assert not list(tmp_path.rglob("*.pkl"))
        some = str(data.customers.index[0])
        stored = store.need_scores.for_customer(tid, some)["churn"]
        assert stored.model_version == version
        assert 0.0 <= stored.score <= 1.0
        assert 1 <= len(stored.reasons) <= 3 and "churn risk" in stored.reasons[0]["text"]
        again = load_active(store, tid, "churn")
        fresh = score_customers(again, data)
        np.testing.assert_allclose(fresh.loc[some, "score"], stored.score, atol=1e-9)
        assert store.models.active(tid, "need:churn").version == version
    finally:
        store.close()
