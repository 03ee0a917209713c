"""Reasons: contributions + bias equal the raw score, for every learner; words match signs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from planted_needs import EFFECTS, planted

from tailorcrm.needs.definitions import LabelNeed
from tailorcrm.needs.model import ModelConfig, NeedModel
from tailorcrm.needs.reasons import explain, grouped_contributions

NEED = LabelNeed(name="churn", field="churn", positive=("Yes",))


@pytest.fixture(scope="module")
def data_and_frame() -> tuple:
    data = planted(600)
    probe = NeedModel(NEED)
    y = NEED.labels(data)
    return data, probe, probe.frame(data, y.index, None), y


@pytest.mark.parametrize("algorithm", ["lightgbm", "blend"])
def test_reasons_sum_to_the_raw_score(data_and_frame: tuple, algorithm: str) -> None:
    _, probe, frame, y = data_and_frame
    model = NeedModel(NEED, ModelConfig(algorithm=algorithm, inner_folds=3))
    model.specs_ = probe.specs_
    model.fit_frame(frame, y)
    _check_sums(model, frame)


def test_logistic_reasons_sum_to_the_raw_score(data_and_frame: tuple,
                                               logistic: NeedModel) -> None:
    _check_sums(logistic, data_and_frame[2])


def _check_sums(model: NeedModel, frame: pd.DataFrame) -> None:
    contrib, bias = model.contributions(frame)
    np.testing.assert_allclose(contrib.sum(axis=1) + bias, model.raw(frame), atol=1e-6)
    grouped, bias = grouped_contributions(model, frame)
    np.testing.assert_allclose(grouped.sum(axis=1) + bias, model.raw(frame), atol=1e-6)
    assert "contract" in grouped.columns and "interests" in grouped.columns


@pytest.fixture(scope="module")
def logistic(data_and_frame: tuple) -> NeedModel:
    _, probe, frame, y = data_and_frame
    model = NeedModel(NEED, ModelConfig(algorithm="logistic", inner_folds=3))
    model.specs_ = probe.specs_
    model.fit_frame(frame, y)
    return model


def test_reasons_in_business_words(data_and_frame: tuple, logistic: NeedModel) -> None:
    frame, model = data_and_frame[2], logistic
    reasons = explain(model, frame.head(50), top=3)
    assert len(reasons) == 50
    for customer_id, items in reasons.items():
        assert 1 <= len(items) <= 3
        for r in items:
            assert np.sign(r.delta) == np.sign(r.contribution)
            assert ("raises churn risk" in r.text) == (r.delta > 0)
            assert r.text.startswith(f"{r.label} ") and r.unit == "percentage points"
            assert r.text.endswith(" percentage points")
            # never a raw feature column, never "by 0.0" after rounding
            assert "_days" not in r.text and "recency_" not in r.text
            assert " by 0.0 " not in r.text and "0.00" not in r.text
            assert round(abs(r.delta), 1) > 0 or "less than 0.1" in r.text
        sizes = [abs(r.contribution) for r in items]
        assert sizes == sorted(sizes, reverse=True), customer_id
    month = frame.index[frame["contract"] == "month-to-month"][0]
    top = {r.feature: r for r in reasons[month]} if month in reasons else {}
    if "contract" in top:
        assert top["contract"].text.startswith("contract = month-to-month raises churn risk")


def test_reasons_name_fields_and_behaviour_in_words(data_and_frame: tuple,
                                                    logistic: NeedModel) -> None:
    frame, model = data_and_frame[2], logistic
    reasons = explain(model, frame, top=8)
    texts = [r.text for items in reasons.values() for r in items]
    assert any(t.startswith("contract = two-year lowers churn risk by ") for t in texts)
    assert any(t.startswith("budget = ") for t in texts)
    behaviour = [r for items in reasons.values() for r in items if r.feature.endswith("_days")]
    assert behaviour and all(r.label != r.feature and r.label in r.text for r in behaviour)
    # each shown figure is the probability change in points with one decimal
    r = next(r for items in reasons.values() for r in items if abs(r.delta) >= 1)
    assert f"{abs(r.delta):.1f} percentage points" in r.text


def test_label_need_recovers_the_planted_effects(data_and_frame: tuple,
                                                 logistic: NeedModel) -> None:
    frame, model = data_and_frame[2], logistic
    grouped, _ = grouped_contributions(model, frame)
    contract = grouped["contract"]
    for value in ("month-to-month", "two-year"):
        has = (frame["contract"] == value).to_numpy()
        effect = contract[has].mean() - contract[~has].mean()
        assert np.sign(effect) == np.sign(EFFECTS[value]), value
    budget = np.corrcoef(frame["budget"].rank(), grouped["budget"])[0, 1]
    assert budget < -0.5
    assert grouped["newsletter"].abs().mean() < 0.25 * contract.abs().mean()


def test_isotonic_calibration_is_monotone(data_and_frame: tuple) -> None:
    _, probe, frame, y = data_and_frame
    model = NeedModel(NEED, ModelConfig(algorithm="logistic", calibration="isotonic",
                                        inner_folds=3))
    model.specs_ = probe.specs_
    model.fit_frame(frame, y)
    raw, p = model.raw(frame), model.predict(frame)
    assert ((p >= 0) & (p <= 1)).all()
    order = np.argsort(raw)
    assert (np.diff(p[order]) >= -1e-12).all()
