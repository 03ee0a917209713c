"""Consent columns in a customers import: spellings, bad values quarantined, changes stamped."""

from __future__ import annotations

from pathlib import Path

import pytest

from tailorcrm.errors import NotFoundError
from tailorcrm.ingest.mapping import load_mapping
from tailorcrm.ingest.service import run_import
from tailorcrm.store import Store

MAPPING = """name = "crm-customers"
entity = "customers"
[fields]
customer_id = "id"
consent_personalization = "personalize"
consent_marketing = "email_ok"
"""


def _import(store: Store, tid: int, folder: Path, name: str, text: str) -> dict[str, int]:
    path = folder / name
    path.write_text(text)
    mapping = folder / "m.toml"
    mapping.write_text(MAPPING)
    report = run_import(store, tid, "customers", path, load_mapping(mapping)).report
    return {"loaded": report.rows_loaded, "rejected": report.rows_rejected}


def test_consent_from_import(database_url: str, tmp_path: Path) -> None:
    store = Store.open(database_url)
    tid = store.tenants.ensure("acme")
    first = _import(store, tid, tmp_path, "a.csv",
                    "id,personalize,email_ok\n"
                    "c1,yes,opt-out\nc2,Denied,\nc3,,true\nc4,perhaps,yes\n")
    assert first == {"loaded": 3, "rejected": 1}
    with pytest.raises(NotFoundError):  # the bad row is quarantined, the good ones land
        store.customers.get(tid, "c4")
    c1, c2, c3 = (store.customers.get(tid, c) for c in ("c1", "c2", "c3"))
    assert (c1.consent_personalization, c1.consent_marketing) == ("granted", "denied")
    assert (c2.consent_personalization, c2.consent_marketing) == ("denied", "unknown")
    assert (c3.consent_personalization, c3.consent_marketing) == ("unknown", "granted")
    assert c1.consent_personalization_at is not None
    [bad] = store.imports.quarantine(tid)
    assert (bad.row_number, bad.field) == (4, "consent_personalization")
    assert "perhaps" in bad.reason

    # the same file again changes nothing; a new file flips one consent only
    assert _import(store, tid, tmp_path, "a.csv",
                   "id,personalize,email_ok\nc1,yes,opt-out\nc2,Denied,\nc3,,true\n"
                   )["loaded"] == 0
    stamp = c2.consent_personalization_at
    assert _import(store, tid, tmp_path, "b.csv", "id,personalize,email_ok\nc2,granted,\n"
                   )["loaded"] == 1
    c2_after = store.customers.get(tid, "c2")
    assert c2_after.consent_personalization == "granted"
    assert c2_after.consent_personalization_at != stamp

    # consent decides who is modelled
    data = store.load_dataset(tid)
    allowed = dict(zip(data.customer_vocab.ids, data.personalizable_customers(), strict=True))
    assert allowed == {"c1": True, "c2": True, "c3": True}
    store.close()
