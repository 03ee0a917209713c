"""Fields flagged ``pii`` on a real database and app: no model features unless the tenant
allows them, masked for read-only keys, never echoed in error messages or logs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from api_helpers import Api, make_api, seed
from privacy_helpers import LogCapture

from tailorcrm.needs.features import FeatureConfig, feature_specs
from tailorcrm.recommend.features import customer_features
from tailorcrm.schema.fields import MASK, FieldSpec, FieldType, coerce_value
from tailorcrm.store.tenant_settings import load_tenant_settings

SECRET = "4929-1234-5678-9012"


@pytest.fixture()
def api(database_url: str, tmp_path: Path) -> Api:
    made = make_api(database_url, tmp_path / "artifacts")
    seed(made)
    s = made.store
    s.fields.add(made.tid, FieldSpec(entity="customer", name="card", type=FieldType.STRING,
                                     pii=True, feature=True))
    s.fields.add(made.tid, FieldSpec(entity="customer", name="age", type=FieldType.INTEGER,
                                     pii=True, feature=True))
    s.fields.add(made.tid, FieldSpec(entity="customer", name="tier", type=FieldType.STRING,
                                     feature=True))
    s.fields.add(made.tid, FieldSpec(entity="customer", name="visits", type=FieldType.INTEGER))
    s.customers.upsert(made.tid, [{"customer_id": f"c{i}", "card": f"{SECRET}-{i}",
                                   "age": 20 + i, "tier": "gold" if i % 2 else "silver"}
                                  for i in range(40)])
    yield made  # type: ignore[misc]
    made.store.close()


def test_pii_values_read_as_a_mask_for_read_only_keys(api: Api) -> None:
    read = api.client.get("/v1/customers/c1", headers=api.h("read")).json()
    assert read["attributes"] == {"card": MASK, "age": MASK, "tier": "gold"}
    for scope in ("write", "admin"):
        seen = api.client.get("/v1/customers/c1", headers=api.h(scope)).json()
        assert seen["attributes"]["card"] == f"{SECRET}-1" and seen["attributes"]["age"] == 21
    assert SECRET not in api.client.get("/v1/customers/c1", headers=api.h("read")).text


def test_a_rejected_pii_value_is_described_not_echoed(api: Api, logs: LogCapture) -> None:
    bad = api.client.put("/v1/customers/c1", json={"attributes": {"age": SECRET}},
                         headers=api.h("write"))
    assert bad.status_code == 422
    assert SECRET not in bad.text and "age" in bad.text and "19 character" in bad.text
    batch = api.client.post("/v1/customers:batch", json={"customers": [
        {"customer_id": "c2", "attributes": {"age": SECRET}}]}, headers=api.h("write"))
    assert batch.status_code == 422 and SECRET not in batch.text
    assert not any(SECRET in line for line in logs.lines)
    # a field without the flag quotes the value (the reason a pii field does not)
    plain = api.client.put("/v1/customers/c1", json={"attributes": {"visits": "many"}},
                           headers=api.h("write"))
    assert plain.status_code == 422 and "many" in plain.text
    with pytest.raises(ValueError, match="required"):
        coerce_value(FieldSpec(entity="customer", name="x", type=FieldType.INTEGER, pii=True,
                               required=True), None)


def test_pii_fields_are_no_features_unless_the_tenant_allows_them(api: Api) -> None:
    data = api.store.load_dataset(api.tid)
    specs = {s.name: s for s in data.customer_fields}
    assert specs["card"].pii and not specs["card"].feature and specs["tier"].feature
    needs = [s.name for s in feature_specs(data, FeatureConfig())]
    assert needs == ["tier"]
    named = [s.name for s in feature_specs(data, FeatureConfig(fields=("card", "age", "tier")))]
    assert named == ["tier"]  # naming a pii field in a need's config does not bring it in
    _, content = customer_features(data.customers.reindex(data.customer_vocab.ids),
                                   data.customer_fields)
    assert content and not any(n.startswith(("card", "age")) for n in content)

    put = api.client.put("/v1/settings", json={"pii_features_allowed": ["age"]},
                         headers=api.h("admin"))
    assert put.status_code == 200, put.text
    assert load_tenant_settings(api.store.configs, api.tid).pii_features_allowed == ("age",)
    allowed = api.store.load_dataset(api.tid)
    assert [s.name for s in feature_specs(allowed, FeatureConfig())] == ["age", "tier"]
    _, content = customer_features(allowed.customers.reindex(allowed.customer_vocab.ids),
                                   allowed.customer_fields)
    assert any(n.startswith("age") for n in content)
    assert not any(n.startswith("card") for n in content)


def test_the_quarantine_export_describes_a_rejected_pii_value(api: Api, tmp_path: Path) -> None:
    from tailorcrm.ingest.mapping import load_mapping
    from tailorcrm.ingest.quarantine import export_quarantine
    from tailorcrm.ingest.service import run_import

    source = tmp_path / "people.csv"
    source.write_text(f"id,age,tier\nc1,31,gold\nc2,{SECRET},silver\nc3,xx,gold\n")
    mapping = tmp_path / "people.toml"
    mapping.write_text('name = "people"\nentity = "customers"\n[fields]\ncustomer_id = "id"\n'
                       '[[attributes]]\ncolumn = "age"\nfield = "age"\ntype = "integer"\n'
                       '[[attributes]]\ncolumn = "tier"\nfield = "tier"\ntype = "string"\n')
    result = run_import(api.store, api.tid, "customers", source, load_mapping(str(mapping)))
    assert result.report.rows_rejected == 2
    out = tmp_path / "q.jsonl"
    assert export_quarantine(api.store, api.tid, out, result.import_id) == 2
    reasons = [json.loads(line)["reason"] for line in out.read_text().splitlines()]
    assert all("pii field" in r and SECRET not in r and "xx" not in r for r in reasons)


def test_the_stored_quarantine_reason_never_quotes_a_pii_value(api: Api,
                                                               tmp_path: Path) -> None:
    """Not only the export: the reason written to the store describes the pii value too."""
    from tailorcrm.ingest.mapping import load_mapping
    from tailorcrm.ingest.service import run_import

    source = tmp_path / "people.csv"
    source.write_text(f"id,age\nc1,31\nc2,{SECRET}\n")
    mapping = tmp_path / "people.toml"
    mapping.write_text('name = "people"\nentity = "customers"\n[fields]\ncustomer_id = "id"\n'
                       '[[attributes]]\ncolumn = "age"\nfield = "age"\ntype = "integer"\n')
    result = run_import(api.store, api.tid, "customers", source, load_mapping(str(mapping)))
    assert result.report.rows_rejected == 1
    stored = [q.reason for q in api.store.imports.quarantine(api.tid)
              if q.import_id == result.import_id]
    assert stored and all(SECRET not in r for r in stored)
