"""The evaluated default is the per-tenant model choice, made on the training part only."""

from __future__ import annotations

import numpy as np
import pandas as pd

from tailorcrm.data.dataset import Dataset
from tailorcrm.evaluation.runner import EvaluationConfig, default_choice, evaluate, split


def _clusters(seed: int = 0) -> pd.DataFrame:
    """120 customers in 3 taste clusters of 12 items; each buys 10 of its cluster's."""
    rng = np.random.default_rng(seed)
    rows = [(f"c{c}", f"i{(c % 3) * 12 + int(i)}", t)
            for c in range(120)
            for t, i in enumerate(rng.choice(12, size=10, replace=False))]
    frame = pd.DataFrame(rows, columns=["customer_id", "item_id", "t"])
    frame["ts"] = pd.to_datetime(frame["t"], unit="D", utc=True)
    frame["type"] = "purchase"
    return frame.drop(columns="t")


def test_default_reports_its_choice_and_why() -> None:
    result = evaluate(_clusters(), EvaluationConfig(k=5), dataset="clusters")
    choice = result["default_choice"]
    assert choice["chosen"] in choice["scores"]
    assert {"chosen_ndcg", "popularity_ndcg", "margin_over_popularity", "carve"} <= set(choice)
    assert choice["personalized"] and not choice["chosen"].startswith("popularity")
    assert list(result["models"]) == ["default"]


def test_the_choice_reads_only_the_training_part() -> None:
    data = Dataset.from_events(_clusters(1))
    config = EvaluationConfig(k=5)
    train_events, _ = split(data.events, config)
    _, on_train = default_choice(data.with_events(train_events))
    result = evaluate(data, config)
    assert result["default_choice"]["scores"] == on_train["scores"]


def test_no_default_no_choice() -> None:
    result = evaluate(_clusters(), EvaluationConfig(k=5, include_default=False,
                                                    models={}), dataset="clusters")
    assert "default_choice" not in result
