"""Events naming customers or items the tenant does not have: created by default (so they get
cold-start results at once), refused when the tenant says so, never for an erased customer;
`timestamp` is the event time's name, `ts` its alias."""

from __future__ import annotations

from api_helpers import Api, seed

from tailorcrm.schema.fields import FieldSpec, FieldType


def _event(customer: str, item: str | None = "i0", **extra: object) -> dict[str, object]:
    body: dict[str, object] = {"customer_id": customer, "type": "view",
                               "timestamp": "2025-02-01T00:00:00Z", **extra}
    if item is not None:
        body["item_id"] = item
    return body


def test_events_create_the_customers_and_items_they_name(api: Api) -> None:
    seed(api)
    r = api.client.post("/v1/events", json=[_event("newcomer", "new-sku"),
                                            _event("newcomer", "i1")], headers=api.h("write"))
    assert r.json() == {"inserted": 2, "duplicates": 0, "customers_created": 1,
                        "items_created": 1}
    assert api.client.get("/v1/customers/newcomer", headers=api.h("read")).status_code == 200
    assert api.client.get("/v1/items/new-sku", headers=api.h("read")).status_code == 200
    job = api.client.post("/v1/jobs/train", json={"needs": False, "segments": False},
                          headers=api.h("write")).json()
    assert api.wait_job(job["job_id"])["status"] == "succeeded"
    r = api.client.post("/v1/events", json=_event("walk-in", "i2"), headers=api.h("write"))
    assert r.json()["customers_created"] == 1
    recs = api.client.get("/v1/customers/walk-in/recommendations", headers=api.h("read"))
    assert recs.status_code == 200, recs.text
    assert recs.json()["items"]


def test_a_tenant_may_refuse_events_for_unknown_records(api: Api) -> None:
    seed(api)
    assert api.client.get("/v1/settings", headers=api.h("read")).json()[
        "unknown_references"] == "create"
    r = api.client.put("/v1/settings", json={"unknown_references": "reject"},
                       headers=api.h("write"))
    assert r.status_code == 403
    r = api.client.put("/v1/settings", json={"unknown_references": "reject"},
                       headers=api.h("admin"))
    assert r.json()["unknown_references"] == "reject"
    before = api.store.events.count(api.tid)
    r = api.client.post("/v1/events", json=[_event("c0"), _event("stranger", "i0"),
                                            _event("c1", "ghost-item")], headers=api.h("write"))
    assert r.status_code == 422
    problems = {(e["row"], e["field"]) for e in r.json()["error"]["details"]["errors"]}
    assert problems == {(1, "customer_id"), (2, "item_id")}
    assert api.store.events.count(api.tid) == before
    assert api.store.customers.find(api.tid, "stranger") is None


def test_an_erased_customer_is_not_created_again_by_an_event(api: Api) -> None:
    seed(api)
    assert api.client.delete("/v1/customers/c3", headers=api.h("write")).status_code == 204
    r = api.client.post("/v1/events", json=_event("c3"), headers=api.h("write"))
    assert r.status_code == 422
    assert "erased" in r.json()["error"]["message"]
    assert api.store.customers.find(api.tid, "c3") is None
    assert api.store.events.for_customer(api.tid, "c3") == []


def test_a_customer_that_cannot_be_created_refuses_its_event(api: Api) -> None:
    api.store.fields.add(api.tid, FieldSpec(entity="customer", name="region",
                                            type=FieldType.STRING, required=True))
    api.store.fields.add(api.tid, FieldSpec(entity="customer", name="tier",
                                            type=FieldType.STRING, default="basic"))
    r = api.client.post("/v1/events", json=_event("nobody-yet"), headers=api.h("write"))
    assert r.status_code == 422
    assert "region" in r.json()["error"]["message"]
    assert api.store.customers.find(api.tid, "nobody-yet") is None
    api.store.customers.upsert(api.tid, [{"customer_id": "known", "region": "north"}])
    r = api.client.post("/v1/events", json=_event("known"), headers=api.h("write"))
    assert r.json()["customers_created"] == 0 and r.json()["items_created"] == 1


def test_timestamp_is_the_time_field_and_ts_its_alias(api: Api) -> None:
    seed(api)
    for name, key in (("timestamp", "k-timestamp"), ("ts", "k-ts")):
        body = {"customer_id": "c0", "item_id": "i0", "type": "view", "idempotency_key": key,
                name: "2025-02-03T04:05:06Z"}
        r = api.client.post("/v1/events", json=body, headers=api.h("write"))
        assert r.status_code == 200, r.text
    stored = {e.idempotency_key: e.ts for e in api.store.events.for_customer(api.tid, "c0")}
    assert stored["k-timestamp"] == stored["k-ts"]
    assert stored["k-ts"].isoformat() == "2025-02-03T04:05:06+00:00"
    spec = api.client.get("/openapi.json").json()["components"]["schemas"]["EventCreate"]
    assert "timestamp" in spec["properties"]
