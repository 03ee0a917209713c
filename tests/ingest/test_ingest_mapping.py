"""Mapping files: shipped ones validate, mistakes are refused, expressions stay arithmetic."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from tailorcrm.errors import ConfigError
from tailorcrm.ingest.expr import evaluate, referenced_columns
from tailorcrm.ingest.mapping import load_mapping, shipped_mappings


def test_shipped_mappings_validate() -> None:
    names = shipped_mappings()
    for required in ("online-retail", "telco-churn", "movielens-100k-ratings",
                     "movielens-100k-items", "movielens-100k-users"):
        assert required in names
    for name in names:
        assert load_mapping(name).name == name
    telco = load_mapping("telco-churn")
    assert len(telco.attributes) == 20
    assert [a.field for a in telco.attributes if not a.feature] == ["churn"]


@pytest.mark.parametrize("body, message", [
    ('name = "x"\nentity = "events"\n[fields]\ncustomer_id = "c"\ntimestamp = "t"\n'
     '[event_type]\nconstant = "view"\ncolour = "red"\n', "colour"),
    ('name = "x"\nentity = "events"\n[fields]\ncustomer_id = "c"\n'
     '[event_type]\nconstant = "view"\n', "timestamp"),
    ('name = "x"\nentity = "customers"\n[fields]\nitem_id = "i"\n', "item_id"),
    ('name = "x"\nentity = "items"\n[fields]\nitem_id = "i"\n'
     '[derive]\nbad = "__import__(\'os\').system(\'true\')"\n', "may be called"),
    ('name = "x"\nentity = "items"\n[fields]\nitem_id = "i"\n'
     '[source]\nheader = false\n', "columns"),
    ("not = toml = at all", "not valid TOML"),
])
def test_invalid_mappings_are_refused(tmp_path: Path, body: str, message: str) -> None:
    path = tmp_path / "m.toml"
    path.write_text(body)
    with pytest.raises(ConfigError, match=message):
        load_mapping(path)


def test_unknown_mapping_name_lists_shipped_ones() -> None:
    with pytest.raises(ConfigError, match="online-retail"):
        load_mapping("no-such-mapping")


def test_expressions_are_vectorized_arithmetic_only() -> None:
    cols = {"Quantity": pd.Series([2.0, -1.0, None]), "Unit Price": pd.Series([1.5, 4.0, 1.0])}
    out = evaluate("abs(Quantity) * `Unit Price` + 1", cols)
    assert out.tolist()[:2] == [4.0, 5.0] and pd.isna(out.iloc[2])
    assert referenced_columns("a * `b c` - a") == ["a", "b c"]
    for bad in ("a.real", "open('x')", "a if b else c", "'s' * 3", "[a]", "lambda: 1"):
        with pytest.raises(ValueError):
            referenced_columns(bad)
