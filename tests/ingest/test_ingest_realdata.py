"""The real data sets load through their shipped mappings with exact, independently computed counts.

Every expected figure is computed here from the raw file with pandas (not by the importer), and
the published key numbers (541,909 lines, 7,043 customers, 100,000 ratings ...) are asserted too.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import func, select

from tailorcrm.ingest.mapping import load_mapping
from tailorcrm.ingest.service import run_import
from tailorcrm.store import Store
from tailorcrm.store.tables import Event, Item

pytestmark = pytest.mark.realdata


def test_online_retail_exact_counts(data_dir: Path, sqlite_url: str) -> None:
    path = data_dir / "uci-online-retail" / "online_retail.csv.gz"
    raw = pd.read_csv(path, dtype=str, keep_default_na=False)
    assert len(raw) == 541_909
    unique = raw.drop_duplicates()
    quantity = unique["Quantity"].astype(int)
    is_return = unique["InvoiceNo"].str.startswith("C") | (quantity < 0)

    store = Store.open(sqlite_url)
    tid = store.tenants.ensure("retail")
    report = run_import(store, tid, "events", path, load_mapping("online-retail")).report

    assert report.rows_read == len(raw)
    assert report.rows_rejected == 0
    assert report.rows_duplicate == len(raw) - len(unique) == 5_268
    assert report.rows_loaded == len(unique)
    assert report.anonymous_rows == (raw["CustomerID"] == "").sum() == 135_080
    assert report.return_rows == (raw["InvoiceNo"].str.startswith("C")
                                  | (raw["Quantity"].astype(int) < 0)).sum()
    assert report.customers_created == raw.loc[raw["CustomerID"] != "", "CustomerID"] \
        .nunique() == 4_372
    assert report.items_created == raw["StockCode"].nunique() == 4_070

    with store.engine.connect() as conn:
        mine = Event.tenant_id == tid
        n_events, value_sum, min_value = conn.execute(select(
            func.count(), func.sum(Event.value), func.min(Event.value)).where(mine)).one()
        n_returns = conn.execute(select(func.count()).where(
            mine, Event.type == "return")).scalar_one()
        amount = conn.execute(select(func.sum(func.json_extract(
            Event.attributes, "$.amount"))).where(mine)).scalar_one()
        customers = pd.Series(conn.execute(select(Event.customer_id).where(mine)).scalars()
                              .all())
    assert n_events == len(unique)
    assert n_returns == is_return.sum()
    assert value_sum == quantity.abs().sum() and min_value > 0
    line = quantity * unique["UnitPrice"].astype(float)
    expected_amount = np.where(is_return, line.abs(), line).sum()  # returns count positive
    assert amount == pytest.approx(expected_amount, rel=1e-9)
    anonymous = customers.str.startswith("anonymous:")
    assert anonymous.sum() == (unique["CustomerID"] == "").sum()
    assert customers[anonymous].nunique() == \
        unique.loc[unique["CustomerID"] == "", "InvoiceNo"].nunique()

    assert store.customers.get(tid, "17850").attributes == {"country": "United Kingdom"}
    item = store.items.get(tid, "85123A")
    assert item.title.strip() == "WHITE HANGING HEART T-LIGHT HOLDER"
    assert item.price is not None and item.price > 0
    with store.engine.connect() as conn:
        first, last = conn.execute(select(func.min(Event.ts), func.max(Event.ts)).where(
            Event.tenant_id == tid)).one()
        n_items = conn.execute(select(func.count()).select_from(Item).where(
            Item.tenant_id == tid)).scalar_one()
    # UK time is GMT (= UTC) in December
    assert str(first)[:16] == "2010-12-01 08:26" and str(last)[:16] == "2011-12-09 12:50"
    assert n_items == 4_070


def test_telco_customers_with_feature_fields(data_dir: Path, sqlite_url: str) -> None:
    path = data_dir / "ibm-telco-customer-churn" / "Telco-Customer-Churn.csv"
    raw = pd.read_csv(path, dtype=str, keep_default_na=False)
    store = Store.open(sqlite_url)
    tid = store.tenants.ensure("telco")
    report = run_import(store, tid, "customers", path, load_mapping("telco-churn")).report
    assert (report.rows_read, report.rows_loaded, report.rows_rejected) == (7_043, 7_043, 0)
    data = store.load_dataset(tid)
    customers = data.customers
    assert len(customers) == len(raw) == 7_043
    assert customers["churn"].sum() == (raw["Churn"] == "Yes").sum() == 1_869
    blank = raw["TotalCharges"].str.strip() == ""
    assert customers["total_charges"].isna().sum() == blank.sum() == 11
    assert customers["tenure"].sum() == raw["tenure"].astype(int).sum()
    assert customers.loc["7590-VHVEG", "contract"] == "Month-to-month"
    fields = {f.name: f for f in store.fields.list(tid, "customer")}
    assert len(fields) == 20
    assert sorted(n for n, f in fields.items() if not f.feature) == ["churn"]
    again = run_import(store, tid, "customers", path, load_mapping("telco-churn")).report
    assert (again.rows_loaded, again.rows_duplicate) == (0, 7_043)


def test_movielens_ratings_and_reimport(data_dir: Path, database_url: str) -> None:
    path = data_dir / "movielens-100k" / "u.data"
    raw = pd.read_csv(path, sep="\t", header=None, names=["user", "item", "rating", "ts"])
    store = Store.open(database_url)
    tid = store.tenants.ensure("ml")
    mapping = load_mapping("movielens-100k-ratings")
    report = run_import(store, tid, "events", path, mapping).report
    assert (report.rows_read, report.rows_loaded, report.rows_rejected) == (100_000,) * 2 + (0,)
    events = store.load_dataset(tid).events
    assert len(events) == len(raw) == 100_000
    assert events["customer_id"].nunique() == raw["user"].nunique() == 943
    assert events["item_id"].nunique() == raw["item"].nunique() == 1_682
    assert events["value"].value_counts().sort_index().tolist() == \
        raw["rating"].value_counts().sort_index().tolist() == [6_110, 11_370, 27_145, 34_174,
                                                                21_201]
    assert events["ts"].min() == pd.Timestamp(raw["ts"].min(), unit="s", tz="UTC")
    again = run_import(store, tid, "events", path, mapping).report
    assert (again.rows_loaded, again.rows_duplicate) == (0, 100_000)
    assert len(store.load_dataset(tid).events) == 100_000


def test_movielens_items_and_users(data_dir: Path, sqlite_url: str) -> None:
    folder = data_dir / "movielens-100k"
    genres = [line.split("|")[0] for line in (folder / "u.genre").read_text().splitlines()
              if line]
    raw = pd.read_csv(folder / "u.item", sep="|", header=None, encoding="latin-1",
                      names=["id", "title", "date", "video", "url", *genres], dtype=str)
    store = Store.open(sqlite_url)
    tid = store.tenants.ensure("ml")
    items = run_import(store, tid, "items", folder / "u.item",
                       load_mapping("movielens-100k-items")).report
    users = run_import(store, tid, "customers", folder / "u.user",
                       load_mapping("movielens-100k-users")).report
    assert (items.rows_loaded, items.rows_rejected) == (1_682, 0)
    assert (users.rows_loaded, users.rows_rejected) == (943, 0)
    data = store.load_dataset(tid)
    assert len(data.items) == len(raw) == 1_682
    assert len(data.customers) == 943
    toy = store.items.get(tid, "1")
    assert toy.title == "Toy Story (1995)"
    assert toy.categories == ["Animation", "Children's", "Comedy"]
    n_drama = sum("Drama" in c for c in data.items["categories"])
    assert n_drama == (raw["Drama"] == "1").sum()
    accented = raw[raw["title"].str.contains("é", regex=False)].iloc[0]
    assert store.items.get(tid, accented["id"]).title == accented["title"]
    assert store.items.get(tid, "1").attributes["release_date"] == "1995-01-01"
    assert (data.customers["gender"] == "F").sum() == 273
    assert {f.name for f in store.fields.list(tid, "customer") if f.pii} == {"zip_code"}
