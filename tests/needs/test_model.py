"""Need models on planted demo data: drivers with the right sign, calibration, round trip."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tailorcrm.demo.config import DemoConfig
from tailorcrm.demo.generator import generate
from tailorcrm.needs.baseline import Baseline
from tailorcrm.needs.definitions import ChurnNeed, SpendNeed
from tailorcrm.needs.grading import binary_metrics, grade
from tailorcrm.needs.model import ModelConfig, NeedModel
from tailorcrm.needs.reasons import grouped_contributions
from tailorcrm.needs.scoring import load_model, save_model
from tailorcrm.needs.training import evaluate_need

ECE_BOUND = 0.05  # expected calibration error on held-out (later) customers


@pytest.fixture(scope="module")
def demo() -> tuple:
    data = generate(DemoConfig(n_customers=900, n_items=100, seed=7))
    dataset = data.to_dataset()
    need = ChurnNeed(name="churn", horizon_days=data.truth.horizon_days)
    return data, dataset, need


@pytest.fixture(scope="module")
def fitted(demo: tuple) -> tuple:
    _, dataset, need = demo
    test_cut = need.default_cutoff(dataset)
    train_cut = test_cut - pd.Timedelta(days=need.horizon_days)
    y_train, y_test = need.labels(dataset, train_cut), need.labels(dataset, test_cut)
    model = NeedModel(need, ModelConfig(inner_folds=3))
    f_train = model.frame(dataset, y_train.index, train_cut)
    model.fit_frame(f_train, y_train)
    f_test = model.frame(dataset, y_test.index, test_cut)
    return model, f_train, f_test, y_test


def _ece(y: np.ndarray, p: np.ndarray, bins: int = 10) -> float:
    edges = np.quantile(p, np.linspace(0, 1, bins + 1))
    which = np.clip(np.searchsorted(edges, p, side="right") - 1, 0, bins - 1)
    return float(sum(abs(y[which == b].mean() - p[which == b].mean()) * (which == b).mean()
                     for b in range(bins) if (which == b).any()))


def test_planted_churn_drivers_have_the_right_sign(demo: tuple, fitted: tuple) -> None:
    data, _, _ = demo
    model, f_train, _, _ = fitted
    signs = data.truth.churn_driver_signs
    contrib, _ = grouped_contributions(model, f_train)
    for driver, sign in signs.items():
        if "=" in driver:  # an enum value: its customers are pushed in the planted direction
            field, value = driver.split("=")
            has = (f_train[field] == value).to_numpy()
            effect = contrib[field][has].mean() - contrib[field][~has].mean()
        else:  # a number: its contribution moves with the value in the planted direction
            column = {"recency_days": "recency_purchase_days"}.get(driver, driver)
            effect = np.corrcoef(f_train[column].rank(), contrib[column])[0, 1]
        assert np.sign(effect) == sign, (driver, effect)


def test_null_fields_matter_little(demo: tuple, fitted: tuple) -> None:
    data, _, _ = demo
    model, f_train, _, _ = fitted
    contrib, _ = grouped_contributions(model, f_train)
    spread = contrib.abs().mean()
    for field in data.truth.churn_null_fields:
        assert spread[field] < 0.5 * spread["contract"], field


def test_probabilities_are_calibrated_on_later_customers(fitted: tuple) -> None:
    model, _, f_test, y_test = fitted
    p = model.predict(f_test)
    assert _ece(y_test.to_numpy(dtype=float), p) < ECE_BOUND


def test_model_beats_the_recency_rule_on_later_customers(fitted: tuple) -> None:
    model, f_train, f_test, y_test = fitted
    y_train = model.train_target_
    base = Baseline(model.need).fit(f_train, model.builder_.transform(f_train),
                                    model.builder_.sources_, y_train)
    assert base.kind == "recency_rule"
    y = y_test.to_numpy(dtype=float)
    ours = binary_metrics(y, model.predict(f_test))
    rule = binary_metrics(y, base.predict(f_test, model.builder_.transform(f_test)))
    assert ours["roc_auc"] > rule["roc_auc"]
    assert ours["brier"] < rule["brier"]
    assert grade(ours, rule).letter in ("A", "B")


def test_save_and_load_round_trip(fitted: tuple, tmp_path: Path) -> None:
    model, _, f_test, _ = fitted
    save_model(model, tmp_path / "m")
    assert not list((tmp_path / "m").glob("*.pkl"))
    again = load_model(tmp_path / "m")
    np.testing.assert_allclose(again.predict(f_test), model.predict(f_test), atol=1e-12)


def test_spend_model_beats_the_past_spend_rate(demo: tuple) -> None:
    _, dataset, _ = demo
    need = SpendNeed(name="spend", horizon_days=90)
    ev = evaluate_need(dataset, need, ModelConfig(inner_folds=3))
    assert ev.baseline_kind.startswith("past spend rate")
    assert ev.model["rmse"] < ev.baseline["rmse"]
