"""Marketing export of a segment: best action, top items, consent, CSV safety."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import pytest

from tailorcrm.customize.actions import save_catalog
from tailorcrm.customize.export import COLUMNS, export_segment
from tailorcrm.errors import NotFoundError
from tailorcrm.schema.fields import FieldSpec, FieldType
from tailorcrm.store import Store

NOW = dt.datetime(2025, 6, 1, tzinfo=dt.UTC)


def seed(store: Store) -> int:
    tid = store.tenants.ensure("shop")
    store.fields.add(tid, FieldSpec(entity="customer", name="plan", type=FieldType.STRING))
    store.customers.upsert(tid, [
        {"customer_id": "granted", "consent_marketing": "granted", "plan": "basic"},
        {"customer_id": "unknown", "plan": "basic"},
        {"customer_id": "denied", "consent_marketing": "denied", "plan": "basic"},
        {"customer_id": "premium", "consent_marketing": "granted", "plan": "premium"},
        {"customer_id": "other-seg", "consent_marketing": "granted", "plan": "basic"},
    ])
    store.items.upsert(tid, [{"item_id": "i1", "title": "=HYPERLINK(\"x\")"},
                             {"item_id": "i2", "title": "Tent"},
                             {"item_id": "i3", "title": "Stove"}])
    store.segments.replace(tid, "rfm", {"granted": "champions", "unknown": "champions",
                                        "denied": "champions", "premium": "champions",
                                        "other-seg": "lost"})
    store.need_scores.replace(tid, "upgrade", [{"customer_id": c, "score": 0.9}
                                               for c in ("granted", "unknown", "denied")])
    store.recommendations.replace(tid, "homepage", [
        {"customer_id": "granted", "items": [{"item_id": "i2"}, {"item_id": "i1"},
                                             {"item_id": "i3"}]},
        {"customer_id": "premium", "items": ["i3"]}])
    save_catalog(store.configs, tid, {"actions": [
        {"name": "upgrade", "priority": 5, "value": "needs.upgrade * 50.0",
         "eligibility": "has(needs.upgrade) && needs.upgrade > 0.5 && customer.plan == 'basic'"},
        {"name": "thank-you", "priority": 1, "eligibility": "segments.rfm == 'champions'"},
    ]})
    return tid


def read(path: Path) -> dict[str, dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert rows == [] or tuple(rows[0]) == COLUMNS
    return {r["customer_id"]: r for r in rows}


def test_export_contents_and_consent(database_url: str, tmp_path: Path) -> None:
    with Store.open(database_url) as store:
        tid = seed(store)
        out = tmp_path / "champions.csv"
        report = export_segment(store, tid, "rfm", "champions", out, strategy="homepage",
                                n_items=2, now=NOW)
        rows = read(out)
        assert set(rows) == {"granted", "unknown", "premium"}  # denied left out, other segment
        assert (report.members, report.exported, report.consent_denied) == (4, 3, 1)
        g = rows["granted"]
        assert (g["best_action"], g["action_value"], g["segment"]) == ("upgrade", "45", "champions")
        assert "upgrade score 0.90" in g["action_reasons"]
        assert g["top_items"] == "i2|i1"
        assert g["top_item_titles"] == "Tent|=HYPERLINK(\"x\")"  # inner cell: not a formula start
        assert rows["premium"]["best_action"] == "thank-you"
        assert rows["premium"]["top_items"] == "i3"
        assert rows["unknown"]["top_items"] == ""

        strict = tmp_path / "strict.csv"
        report = export_segment(store, tid, "rfm", "champions", strict, require_granted=True,
                                now=NOW)
        assert set(read(strict)) == {"granted", "premium"}
        assert report.consent_not_granted == 1


def test_formula_cells_are_neutralised(database_url: str, tmp_path: Path) -> None:
    with Store.open(database_url) as store:
        tid = seed(store)
        store.recommendations.replace(tid, "homepage", [
            {"customer_id": "granted", "items": [{"item_id": "i1"}]}])
        out = tmp_path / "x.csv"
        export_segment(store, tid, "rfm", "champions", out, strategy="homepage", now=NOW)
        assert read(out)["granted"]["top_item_titles"] == "'=HYPERLINK(\"x\")"


def test_unknown_segment_is_an_error(database_url: str, tmp_path: Path) -> None:
    with Store.open(database_url) as store:
        tid = seed(store)
        with pytest.raises(NotFoundError):
            export_segment(store, tid, "rfm", "nope", tmp_path / "x.csv")
