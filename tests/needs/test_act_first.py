"""The report's per-need drivers and customers to act on first (score × value), and the CSV."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from demo_tenant import seed_demo
from planted_needs import planted

from tailorcrm.needs.act_first import CSV_COLUMNS, model_drivers
from tailorcrm.needs.analysis_store import tenant_report
from tailorcrm.needs.definitions import ChurnNeed, LabelNeed, save_need
from tailorcrm.needs.model import ModelConfig, NeedModel
from tailorcrm.needs.publishing import train_and_publish
from tailorcrm.needs.report import render_html, write_report
from tailorcrm.store import Store


def test_drivers_find_the_planted_fields() -> None:
    data = planted(600)
    need = LabelNeed(name="churn", field="churn", positive=("Yes",))
    model = NeedModel(need, ModelConfig(algorithm="logistic", inner_folds=2)).fit(data)
    drivers = model_drivers(model, model.frame(data, data.customers.index, None), top=3)
    assert drivers[0].field == "contract" and drivers[0].direction == (
        "month-to-month raises it most")
    assert {d.field for d in drivers} >= {"contract", "budget"}
    assert abs(sum(d.share for d in drivers)) <= 1.0 + 1e-9
    assert next(d for d in drivers if d.field == "budget").direction == "higher lowers it"


@pytest.fixture()
def store(sqlite_url: str) -> Store:
    s = Store.open(sqlite_url)
    yield s
    s.close()


def test_report_ranks_customers_by_score_times_value_and_exports_csv(
        store: Store, tmp_path: Path) -> None:
    tid = seed_demo(store)
    need = ChurnNeed(name="churn", horizon_days=90)
    save_need(store, tid, need)
    data = store.load_dataset(tid)
    outcome = train_and_publish(store, tid, need, data, tmp_path / "a",
                                config=ModelConfig(inner_folds=2))
    report = tenant_report(store, tid, "default", save_segments=False)
    (act,) = report.actions
    assert act.need == "churn" and act.n_scored == len(data.customers)
    assert act.in_use == ("baseline" if outcome.source == "baseline" else "model")
    assert act.drivers and len(act.customers) == 20
    priorities = [c.priority for c in act.customers]
    assert priorities == sorted(priorities, reverse=True)
    for c in act.customers:
        assert c.priority == pytest.approx(c.score * (c.value if c.value > 0 else 1.0))
    (quality,) = [m for m in report.models if m.name == "need:churn"]
    assert quality.in_use == act.in_use and quality.gate
    html = render_html(report)
    assert "Customers to act on first" in html and "In use:" in html
    assert act.customers[0].customer_id in html and act.drivers[0].label in html
    out = tmp_path / "act.csv"
    write_report(report, csv_path=str(out))
    with out.open() as fh:
        rows = list(csv.DictReader(fh))
    assert tuple(rows[0]) == CSV_COLUMNS and len(rows) == len(data.customers)
    assert rows[0]["customer_id"] == act.customers[0].customer_id and rows[0]["rank"] == "1"
    assert "act-first" not in report.model_dump_json()  # the CSV is not part of the JSON
