"""Store contract, data side: every test runs on SQLite and on PostgreSQL (``database_url``)."""

from __future__ import annotations

from collections.abc import Iterator

import pandas as pd
import pytest
from sqlalchemy import inspect, text

from tailorcrm.data.vocab import Vocabulary
from tailorcrm.errors import AuthenticationError, ConflictError, NotFoundError, ValidationError
from tailorcrm.schema.fields import FieldSpec
from tailorcrm.store import Store
from tailorcrm.store.indexes import field_indexes, index_name
from tailorcrm.store.migrate import current_revision, head_revision


@pytest.fixture()
def store(database_url: str) -> Iterator[Store]:
    with Store.open(database_url) as s:
        yield s


def _seed(store: Store, slug: str) -> int:
    tid = store.tenants.ensure(slug)
    store.fields.add(tid, FieldSpec(entity="customer", name="tier", type="enum",
                                    enum_values=("gold", "silver"), indexed=True))
    store.fields.add(tid, FieldSpec(entity="customer", name="age", type="integer"))
    store.customers.upsert(tid, [
        {"customer_id": "c1", "tier": "gold", "age": "41"},
        {"customer_id": "c2", "tier": "silver", "consent_personalization": "denied"},
    ])
    store.items.upsert(tid, [{"item_id": "i1", "title": "Boots", "categories": "shoes|winter",
                              "price": 80}])
    store.events.add(tid, [
        {"customer_id": "c1", "item_id": "i1", "type": "purchase", "ts": "2024-03-01T12:00:00Z",
         "value": 1, "idempotency_key": "o1"},
        {"customer_id": "c2", "item_id": "i1", "type": "view", "ts": "2024-02-01T12:00:00+01:00",
         "idempotency_key": "v1"},
    ])
    return tid


def test_migrations_twice_are_harmless(database_url: str) -> None:
    for _ in range(2):
        with Store.open(database_url) as s:
            assert current_revision(s.engine) == head_revision()
            s.tenants.ensure("acme")
    with Store.open(database_url) as s:
        assert [t.slug for t in s.tenants.list()] == ["acme"]


def test_tenant_isolation(store: Store) -> None:
    a, b = _seed(store, "alpha"), store.tenants.ensure("beta")
    # B sees nothing of A through any repository
    assert store.customers.find(b, "c1") is None
    assert store.items.find(b, "i1") is None
    assert store.customers.list(b) == [] and store.customers.count(b) == 0
    assert store.events.for_customer(b, "c1") == [] and store.events.count(b) == 0
    assert store.fields.list(b) == []
    data = store.load_dataset(b)
    assert len(data.customers) == len(data.items) == len(data.events) == 0
    # B cannot change or delete A's rows
    assert store.customers.delete(b, "c1") is False
    assert store.items.delete(b, "i1") is False
    with pytest.raises(NotFoundError):
        store.customers.set_consent(b, "c1", "marketing", "granted")
    with pytest.raises(ValidationError):  # A's field is unknown to B
        store.customers.upsert(b, [{"customer_id": "c1", "tier": "gold"}])
    store.customers.upsert(b, [{"customer_id": "c1"}])
    assert store.customers.get(a, "c1").attributes == {"tier": "gold", "age": 41}
    assert store.events.add(b, [{"customer_id": "c1", "type": "view", "ts": "2024-01-01",
                                 "idempotency_key": "o1"}]) == (1, 0)
    assert store.events.count(a) == 2
    assert store.erase_customer(b, "c1")["customers"] == 1
    assert store.customers.find(a, "c1") is not None and store.events.count(a) == 2
    key_id, _ = store.keys.create(a, ["read"])
    with pytest.raises(NotFoundError):
        store.keys.revoke(key_id, tid=b)
    assert store.keys.list(b) == []
    store.configs.put(a, "strategy", "home", {"k": 1})
    with pytest.raises(NotFoundError):
        store.configs.get(b, "strategy", "home")
    store.segments.replace(a, "rfm", {"c1": "champions"})
    assert store.segments.of_customer(b, "c1") == {} and store.segments.list(b) == {}
    store.models.register(a, "als", "v1", "als", "/tmp/x", activate=True)
    assert store.models.active(b, "als") is None and store.models.list(b) == []


def test_upsert_semantics(store: Store) -> None:
    tid = _seed(store, "acme")
    res = store.customers.upsert(tid, [{"customer_id": "c1", "age": 42},
                                       {"customer_id": "c3", "tier": "gold"}])
    assert (res.inserted, res.updated) == (1, 1)
    c1 = store.customers.get(tid, "c1")
    assert c1.attributes == {"tier": "gold", "age": 42}  # untouched keys are kept
    assert store.customers.get(tid, "c2").consent_personalization == "denied"
    store.customers.upsert(tid, [{"customer_id": "c1", "age": None}])  # None clears
    assert store.customers.get(tid, "c1").attributes == {"tier": "gold"}
    store.items.upsert(tid, [{"item_id": "i1", "price": 75.5}])
    item = store.items.get(tid, "i1")
    assert (item.title, item.categories, item.price) == ("Boots", ["shoes", "winter"], 75.5)
    with pytest.raises(ValidationError) as err:
        store.customers.upsert(tid, [{"customer_id": "c4", "tier": "gold"},
                                     {"customer_id": "c5", "tier": "bronze"},
                                     {"customer_id": "c6", "age": "old"}])
    problems = err.value.details["errors"]
    assert [(p["row"], p["id"], p["field"]) for p in problems] == [(1, "c5", "tier"),
                                                                  (2, "c6", "age")]
    assert store.customers.find(tid, "c4") is None  # all or nothing
    assert [c.customer_id for c in store.customers.list(tid, {"tier": "gold"})] == ["c1", "c3"]
    assert store.customers.count(tid, {"age": 41}) == 0


def test_filters_by_typed_fields(store: Store) -> None:
    tid = _seed(store, "acme")
    store.fields.add(tid, FieldSpec(entity="customer", name="vip", type="boolean", indexed=True))
    store.fields.add(tid, FieldSpec(entity="customer", name="score", type="number"))
    frame = pd.DataFrame({"customer_id": ["c1", "c2", "c3"], "vip": ["yes", "no", None],
                          "score": [0.5, 2.0, float("nan")]})
    assert store.customers.upsert(tid, frame).total == 3
    assert [c.customer_id for c in store.customers.list(tid, {"vip": True})] == ["c1"]
    assert [c.customer_id for c in store.customers.list(tid, {"vip": "false"})] == ["c2"]
    assert [c.customer_id for c in store.customers.list(tid, {"age": "41"})] == ["c1"]
    assert [c.customer_id for c in store.customers.list(tid, {"score": 2})] == ["c2"]
    assert store.customers.count(tid, {"tier": "silver", "vip": False}) == 1
    assert [i.item_id for i in store.items.list(tid, {"available": True})] == ["i1"]
    with pytest.raises(ValidationError):
        store.customers.list(tid, {"nope": 1})


def test_events_are_idempotent(store: Store) -> None:
    tid = _seed(store, "acme")
    rows = [{"customer_id": "c1", "item_id": "i1", "type": "view", "ts": "2024-03-02"},
            {"customer_id": "c1", "item_id": "i1", "type": "view", "ts": "2024-03-02"},
            {"customer_id": "c1", "item_id": "i1", "type": "purchase", "ts": "2024-03-01T12:00Z",
             "idempotency_key": "o1"}]
    assert store.events.add(tid, rows) == (1, 2)
    assert store.events.add(tid, rows) == (0, 3)
    assert store.events.count(tid) == 3
    with pytest.raises(ValidationError, match="unknown event type"):
        store.events.add(tid, [{"customer_id": "c1", "type": "teleport", "ts": "2024-01-01"}])
    assert store.events.add(tid, [{"customer_id": "c9", "type": "service_ticket",
                                   "ts": "2024-01-01"}]) == (1, 0)


def test_field_change_reports_what_would_break(store: Store) -> None:
    tid = _seed(store, "acme")
    store.customers.upsert(tid, [{"customer_id": "c3", "age": 7}])
    narrower = FieldSpec(entity="customer", name="tier", type="enum", enum_values=("gold",))
    report = store.fields.change(tid, narrower, dry_run=True)
    assert report.rows_checked == 2 and not report.applied  # c3 has no tier: not read
    assert [(p.row_id, p.value) for p in report.problems] == [("c2", "silver")]
    with pytest.raises(ConflictError) as err:
        store.fields.change(tid, narrower)
    assert err.value.details["report"]["n_problems"] == 1
    assert store.fields.get(tid, "customer", "tier").enum_values == ("gold", "silver")
    as_text = FieldSpec(entity="customer", name="age", type="string")
    report = store.fields.change(tid, as_text)
    assert report.applied and report.n_converted == 2
    assert store.customers.get(tid, "c1").attributes["age"] == "41"
    required = FieldSpec(entity="customer", name="age", type="string", required=True)
    assert [p.row_id for p in store.fields.change(tid, required, dry_run=True).problems] == [
        "c2"]
    forced = store.fields.change(tid, narrower, force=True)
    assert forced.applied and store.customers.get(tid, "c2").attributes["tier"] == "silver"


def test_field_remove_keeps_values_unless_purged(store: Store) -> None:
    tid = _seed(store, "acme")
    assert store.fields.remove(tid, "customer", "age") == 0
    assert store.customers.get(tid, "c1").attributes["age"] == 41
    store.fields.add(tid, FieldSpec(entity="customer", name="age", type="integer"))
    assert store.fields.remove(tid, "customer", "age", purge=True) == 1
    assert "age" not in store.customers.get(tid, "c1").attributes
    with pytest.raises(NotFoundError):
        store.fields.remove(tid, "customer", "age")


def test_expression_index_exists_and_serves_filters(store: Store) -> None:
    tid = _seed(store, "acme")
    name = index_name("customer", "tier")
    with store.engine.connect() as conn:
        assert name in field_indexes(conn, "customer")
        if store.backend == "sqlite":
            plan = conn.execute(text(
                "EXPLAIN QUERY PLAN SELECT customer_id FROM customers WHERE tenant_id = 1 "
                "AND json_extract(customers.attributes, '$.tier') = 'gold'")).all()
            assert name in " ".join(str(r) for r in plan)
        else:
            ddl = conn.execute(text("SELECT indexdef FROM pg_indexes WHERE indexname = :n"),
                               {"n": name}).scalar_one()
            assert "->>" in ddl and "'tier'" in ddl
    store.fields.change(tid, FieldSpec(entity="customer", name="tier", type="enum",
                                       enum_values=("gold", "silver")))
    with store.engine.connect() as conn:
        assert name not in field_indexes(conn, "customer")
    assert "uq_model_versions_active" in {
        ix["name"] for ix in inspect(store.engine).get_indexes("model_versions")}


def test_api_keys(store: Store) -> None:
    tid = store.tenants.ensure("acme")
    key_id, secret = store.keys.create(tid, ["read", "write"], name="crm")
    assert store.keys.verify(secret) == ("acme", ("read", "write"))
    assert secret not in str(store.keys.list(tid))
    with pytest.raises(AuthenticationError):
        store.keys.verify(secret[:-1] + ("x" if secret[-1] != "x" else "y"))
    with pytest.raises(AuthenticationError):
        store.keys.verify("nonsense")
    with pytest.raises(ValidationError):
        store.keys.create(tid, ["root"])
    store.keys.revoke(key_id)
    with pytest.raises(AuthenticationError, match="revoked"):
        store.keys.verify(secret)
    assert store.keys.list(tid)[0].revoked_at is not None


def test_load_dataset_round_trip(store: Store) -> None:
    tid = _seed(store, "acme")
    data = store.load_dataset(tid)
    assert list(data.customers.index) == ["c1", "c2"]
    assert data.customers.loc["c1", "tier"] == "gold" and data.customers.loc["c1", "age"] == 41
    assert pd.isna(data.customers.loc["c2", "age"])
    assert data.customers.loc["c2", "consent_personalization"] == "denied"
    assert data.items.loc["i1", "categories"] == ["shoes", "winter"]
    assert str(data.events["ts"].dtype) == "datetime64[ns, UTC]"
    # ordered by time, offsets normalised to UTC
    assert list(data.events["type"]) == ["view", "purchase"]
    assert data.events["ts"].iloc[0] == pd.Timestamp("2024-02-01T11:00:00Z")
    assert data.interaction_matrix().sum() == pytest.approx(1.0 + 5.0)
    assert list(data.personalizable_customers()) == [True, False]
    store.events.add(tid, [{"customer_id": "c0", "item_id": "i0", "type": "view",
                            "ts": "2024-01-01"}])  # ids known only from events
    data = store.load_dataset(tid)
    assert list(data.customer_vocab.ids) == list(Vocabulary.union(
        data.customers.index, data.events["customer_id"].dropna()).ids) == ["c0", "c1", "c2"]
    assert list(data.item_vocab.ids) == ["i0", "i1"]


def test_load_dataset_keeps_odd_ids_and_missing_items(store: Store) -> None:
    tid = store.tenants.ensure("acme")
    store.events.add(tid, [
        {"customer_id": "007", "item_id": "NA", "type": "rating", "value": 4,
         "ts": "2024-01-02T00:00:00Z"},
        {"customer_id": "007", "type": "service_ticket", "ts": "2024-01-01T00:00:00Z"},
        {"customer_id": "a,b \"c\"", "item_id": "", "type": "view",
         "ts": "2024-01-03T00:00:00.123456Z"}])
    ev = store.load_dataset(tid).events
    assert list(ev["customer_id"]) == ["007", "007", 'a,b "c"']
    assert ev["item_id"].isna().tolist() == [True, False, True] and ev["item_id"].iloc[1] == "NA"
    assert ev["value"].iloc[1] == 4.0 and ev["value"].isna().iloc[0]
    assert ev["ts"].iloc[2] == pd.Timestamp("2024-01-03T00:00:00.123456Z")


def test_erasure_reaches_caches(store: Store) -> None:
    tid = _seed(store, "acme")
    store.segments.replace(tid, "rfm", {"c1": "champions", "c2": "lost"})
    store.need_scores.replace(tid, "churn", [{"customer_id": "c1", "score": 0.9}])
    store.recommendations.replace(tid, "home", [{"customer_id": "c1", "items": ["i1"],
                                                 "model_version": "v1", "config_hash": "h"}])
    run = store.imports.start(tid, "events", "x.csv")
    store.imports.quarantine_rows(tid, run, [
        {"entity": "event", "row_number": 2, "reason": "bad ts", "raw": {"CustomerID": "c1"}},
        {"entity": "event", "row_number": 3, "reason": "bad ts", "raw": {"CustomerID": "c2"}}])
    counts = store.erase_customer(tid, "c1")
    assert counts == {"events": 1, "customer_segments": 1, "need_scores": 1,
                      "recommendation_lists": 1, "customers": 1, "quarantine": 1,
                      "consent_history": 0, "experiment_exposures": 0}
    assert [q.raw for q in store.imports.quarantine(tid)] == [{"CustomerID": "c2"}]
    assert store.customers.find(tid, "c1") is None
    assert store.events.for_customer(tid, "c1") == []
    assert store.segments.of_customer(tid, "c1") == {}
    assert store.need_scores.for_customer(tid, "c1") == {}
    assert store.recommendations.get(tid, "home", "c1") is None
    assert store.segments.of_customer(tid, "c2") == {"rfm": "lost"}
