"""Writing demo data: CSV files that read back to the same values, truth.json, mappings, CLI."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from tailorcrm.demo.fields import custom_fields
from tailorcrm.demo.generator import DemoData
from tailorcrm.demo.writer import FILES, MAPPINGS, load_truth, write
from tailorcrm.schema.fields import coerce_value


@pytest.fixture(scope="module")
def written(small_demo: DemoData, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return write(small_demo, tmp_path_factory.mktemp("demo"))


def _read(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False)


@pytest.mark.parametrize("entity, name", [("customer", "customers"), ("item", "items"),
                                          ("event", "events")])
def test_csv_values_coerce_back_to_the_generated_values(small_demo: DemoData,
                                                        written: dict[str, Path], entity: str,
                                                        name: str) -> None:
    frame, csv = getattr(small_demo, name), _read(written[name])
    assert list(csv.columns) == list(frame.columns) and len(csv) == len(frame)
    for spec in custom_fields(entity):  # type: ignore[arg-type]
        want = [coerce_value(spec, v) for v in frame[spec.name]]
        got = [coerce_value(spec, v) for v in csv[spec.name]]
        assert got == want, spec.name


def test_builtin_columns_are_written_plainly(small_demo: DemoData,
                                             written: dict[str, Path]) -> None:
    items, events = _read(written["items"]), _read(written["events"])
    assert [c.split("|") for c in items["categories"]] == small_demo.items["categories"].tolist()
    assert set(items["available"]) <= {"true", "false"}
    assert events["timestamp"].str.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ").all()
    back = pd.to_datetime(events["timestamp"], utc=True)
    assert (back.to_numpy() == small_demo.events["timestamp"].to_numpy()).all()
    tickets = events["type"] == "service_ticket"
    assert (events.loc[tickets, "item_id"] == "").all()
    value = pd.to_numeric(events["value"].replace("", np.nan))
    np.testing.assert_allclose(value, small_demo.events["value"], equal_nan=True)


def test_truth_json_round_trips(small_demo: DemoData, written: dict[str, Path]) -> None:
    truth = load_truth(written["truth"])
    assert truth.relevant_items == small_demo.truth.relevant_items
    assert truth.churn_driver_signs == small_demo.truth.churn_driver_signs
    np.testing.assert_allclose(truth.affinity(), small_demo.truth.affinity(), atol=1e-4)
    pd.testing.assert_frame_equal(
        truth.per_customer.drop(columns="churn_date"),
        small_demo.truth.per_customer.drop(columns="churn_date"), check_dtype=False)
    assert (truth.per_customer["churn_date"].tolist()
            == small_demo.truth.per_customer["churn_date"].tolist())


def test_shipped_mappings_declare_the_demo_fields() -> None:
    mapping = pytest.importorskip("tailorcrm.ingest.mapping")
    for name, mapping_name in MAPPINGS.items():
        loaded = mapping.load_mapping(mapping_name)
        assert loaded.entity == name
        got = {s.name: s for s in loaded.field_specs()}
        want = {s.name: s for s in custom_fields(loaded.target_entity)}
        assert got == want


def test_cli_writes_the_files(tmp_path: Path) -> None:
    from tailorcrm.cli.main import app

    result = CliRunner().invoke(app, ["demo-data", "--out", str(tmp_path), "--seed", "3",
                                      "--customers", "60", "--items", "30"])
    assert result.exit_code == 0, result.output
    for file in FILES.values():
        assert (tmp_path / file).stat().st_size > 0
    assert len(_read(tmp_path / "customers.csv")) == 60
    bad = CliRunner().invoke(app, ["demo-data", "--out", str(tmp_path), "--customers", "3"])
    assert bad.exit_code != 0
