"""Routes without a trained model: CRUD, events, schema, configs, errors, limits, health."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from api_helpers import Api


def _error(body: dict[str, Any], code: str) -> None:
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "details"}
    assert body["error"]["code"] == code, body


def test_customer_put_get_delete(api: Api) -> None:
    c = api.client
    assert c.post("/v1/schema/customer/fields", json={"name": "tier", "type": "enum",
                                                      "enum_values": ["gold", "silver"]},
                  headers=api.h()).status_code == 201
    r = c.put("/v1/customers/alice", json={"attributes": {"tier": "gold"},
                                           "consent_personalization": "granted"},
              headers=api.h("write"))
    assert r.status_code == 200, r.text
    assert r.json()["attributes"] == {"tier": "gold"}
    # an upsert changes only what it gives
    c.put("/v1/customers/alice", json={"consent_marketing": "denied"}, headers=api.h("write"))
    got = c.get("/v1/customers/alice", headers=api.h("read")).json()
    assert got["attributes"] == {"tier": "gold"}
    assert (got["consent_personalization"], got["consent_marketing"]) == ("granted", "denied")
    bad = c.put("/v1/customers/bob", json={"attributes": {"tier": "bronze"}},
                headers=api.h("write"))
    assert bad.status_code == 422
    _error(bad.json(), "validation_error")
    c.post("/v1/events", json={"customer_id": "alice", "item_id": "x", "type": "view"},
           headers=api.h("write"))
    assert c.delete("/v1/customers/alice", headers=api.h("write")).status_code == 204
    assert api.store.events.for_customer(api.tid, "alice") == []
    _error(c.get("/v1/customers/alice", headers=api.h("read")).json(), "not_found")
    assert c.delete("/v1/customers/alice", headers=api.h("write")).status_code == 404


def test_batches_are_all_or_nothing(api: Api) -> None:
    c = api.client
    r = c.post("/v1/customers:batch", json={"customers": [{"customer_id": "a"},
                                                          {"customer_id": "b"}]},
               headers=api.h("write"))
    assert r.json() == {"inserted": 2, "updated": 0}
    r = c.post("/v1/customers:batch", json={"customers": [{"customer_id": "a"},
                                                          {"customer_id": "c"}]},
               headers=api.h("write"))
    assert r.json() == {"inserted": 1, "updated": 1}
    r = c.post("/v1/items:batch", json={"items": [{"item_id": "ok", "price": 3.5},
                                                  {"item_id": "bad", "attributes": {"x": 1}}]},
               headers=api.h("write"))
    assert r.status_code == 422, r.text
    assert api.store.items.find(api.tid, "ok") is None  # nothing written
    r = c.put("/v1/items/ok", json={"title": "Ok", "categories": ["a"], "price": 3.5},
              headers=api.h("write"))
    assert r.json()["title"] == "Ok" and r.json()["categories"] == ["a"]
    assert c.get("/v1/items/ok", headers=api.h("read")).json()["price"] == 3.5
    assert c.delete("/v1/items/ok", headers=api.h("write")).status_code == 204
    assert c.get("/v1/items/ok", headers=api.h("read")).status_code == 404


def test_events_one_or_many_idempotent(api: Api) -> None:
    c = api.client
    one = {"idempotency_key": "e1", "customer_id": "a", "item_id": "i", "type": "purchase",
           "ts": "2025-03-01T00:00:00Z"}
    # customer a and item i are new: created with the events (the default policy)
    assert c.post("/v1/events", json=one, headers=api.h("write")).json() == {
        "inserted": 1, "duplicates": 0, "customers_created": 1, "items_created": 1}
    many = [one, {**one, "idempotency_key": "e2"}, {**one, "idempotency_key": None}]
    assert c.post("/v1/events", json=many, headers=api.h("write")).json() == {
        "inserted": 2, "duplicates": 1, "customers_created": 0, "items_created": 0}
    assert api.store.events.count(api.tid) == 3
    bad = c.post("/v1/events", json={**one, "type": "teleport"}, headers=api.h("write"))
    assert bad.status_code == 422
    _error(bad.json(), "validation_error")
    assert api.store.events.count(api.tid) == 3


def test_request_validation_and_unknown_routes_use_one_shape(api: Api) -> None:
    c = api.client
    r = c.post("/v1/events", json={"customer_id": 5}, headers=api.h("write"))
    assert r.status_code == 422
    _error(r.json(), "validation_error")
    assert r.json()["error"]["details"]["errors"]
    r = c.put("/v1/customers/x", json={"nope": 1}, headers=api.h("write"))
    assert r.status_code == 422
    r = c.get("/v1/customers/x/recommendations?n=0", headers=api.h("read"))
    assert r.status_code == 422
    _error(c.get("/v1/nothing-here").json(), "not_found")
    r = c.get("/v1/customers/x/recommendations", headers=api.h("read"))
    _error(r.json(), "not_found")


def test_body_size_limit(api: Api) -> None:
    big = [{"customer_id": f"c{i}", "item_id": "i", "type": "view"} for i in range(4000)]
    r = api.client.post("/v1/events", json=big, headers=api.h("write"))
    assert r.status_code == 413
    _error(r.json(), "too_large")
    assert api.store.events.count(api.tid) == 0


def test_body_size_limit_without_content_length(api: Api) -> None:
    chunk = b'{"customer_id": "c", "item_id": "i", "type": "view"},' * 1000

    def stream() -> Iterator[bytes]:  # chunked: no Content-Length to trust
        yield b"["
        for _ in range(10):
            yield chunk
        yield b'{"customer_id": "c", "item_id": "i", "type": "view"}]'

    r = api.client.post("/v1/events", content=stream(),
                        headers={**api.h("write"), "Content-Type": "application/json"})
    assert r.status_code == 413
    _error(r.json(), "too_large")
    assert api.store.events.count(api.tid) == 0


def test_auth_errors(api: Api) -> None:
    c = api.client
    r = c.get("/v1/segments")
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
    _error(r.json(), "unauthenticated")
    assert c.get("/v1/segments", headers={"Authorization": "Bearer tcrm_x_y"}).status_code == 401
    key_id = api.keys["read"].split("_")[1]
    api.store.keys.revoke(key_id)
    assert c.get("/v1/segments", headers=api.h("read")).status_code == 401
    r = c.put("/v1/customers/a", json={}, headers=api.h("write"))
    assert r.status_code == 200
    r = c.put("/v1/rules/r1", json={}, headers=api.h("write"))
    assert r.status_code == 403
    _error(r.json(), "forbidden")


def test_schema_fields(api: Api) -> None:
    c = api.client
    assert c.get("/v1/schema/item/fields", headers=api.h("read")).json() == []
    r = c.post("/v1/schema/item/fields", json={"name": "brand", "type": "string",
                                               "feature": True}, headers=api.h())
    assert r.status_code == 201 and r.json()["entity"] == "item"
    assert c.post("/v1/schema/item/fields", json={"name": "brand", "type": "string"},
                  headers=api.h()).status_code == 409
    assert c.post("/v1/schema/item/fields", json={"name": "title", "type": "string"},
                  headers=api.h()).status_code == 422  # built-in name
    assert c.post("/v1/schema/thing/fields", json={"name": "x", "type": "string"},
                  headers=api.h()).status_code == 422
    names = [f["name"] for f in c.get("/v1/schema/item/fields", headers=api.h("read")).json()]
    assert names == ["brand"]
    assert c.delete("/v1/schema/item/fields?name=brand", headers=api.h()).status_code == 204
    assert c.delete("/v1/schema/item/fields?name=brand", headers=api.h()).status_code == 404


def test_configs_versions_and_validation(api: Api) -> None:
    c = api.client
    rules: dict[str, Any] = {"filters": [{"name": "cheap", "expression": "item.price < 100.0"}]}
    r = c.put("/v1/rules/shop", json=rules, headers=api.h())
    assert r.status_code == 200 and r.json()["version"] == 1
    assert c.put("/v1/rules/shop", json=rules, headers=api.h()).json()["version"] == 1  # same
    rules["description"] = "v2"
    assert c.put("/v1/rules/shop", json=rules, headers=api.h()).json()["version"] == 2
    got = c.get("/v1/rules/shop", headers=api.h("read")).json()
    assert got["version"] == 2 and got["body"]["filters"][0]["name"] == "cheap"
    bad = c.put("/v1/rules/shop", json={"filters": [{"name": "x", "expression": "item.("}]},
                headers=api.h())
    assert bad.status_code == 422
    _error(bad.json(), "rule_error")
    assert c.put("/v1/rules/shop", json={"filters": "no"}, headers=api.h()).status_code == 422
    strategy = {"models": [{"kind": "popularity"}], "rules": "shop"}
    r = c.put("/v1/strategies/home", json=strategy, headers=api.h())
    assert r.status_code == 200, r.text
    assert r.json()["body"]["name"] == "home"
    assert c.put("/v1/strategies/home", json={**strategy, "name": "other"},
                 headers=api.h()).status_code == 422
    assert c.put("/v1/strategies/home", json={**strategy, "rules": "missing"},
                 headers=api.h()).status_code == 404
    assert c.get("/v1/strategies/nothing", headers=api.h("read")).status_code == 404
    catalog = {"actions": [{"name": "call", "title": "Call them", "eligibility": "true"}]}
    r = c.put("/v1/actions/default", json=catalog, headers=api.h())
    assert r.status_code == 200, r.text
    assert c.get("/v1/actions/default", headers=api.h("read")).json()["body"]["actions"][0][
        "name"] == "call"


def test_needs_actions_and_segments_read_stored_results(api: Api) -> None:
    c = api.client
    c.put("/v1/customers/a", json={}, headers=api.h("write"))
    api.store.need_scores.replace(api.tid, "upgrade", [
        {"customer_id": "a", "score": 0.2, "model_version": "v1", "reasons": ["r"]}])
    api.store.need_scores.replace(api.tid, "churn", [
        {"customer_id": "a", "score": 0.7, "model_version": "v1", "reasons": []}])
    needs = c.get("/v1/customers/a/needs", headers=api.h("read")).json()["needs"]
    assert [n["need"] for n in needs] == ["churn", "upgrade"]
    assert c.get("/v1/customers/zz/needs", headers=api.h("read")).status_code == 404
    assert c.get("/v1/customers/a/next-best-actions",
                 headers=api.h("read")).status_code == 404  # no catalog yet
    c.put("/v1/actions/default", json={"actions": [
        {"name": "save", "title": "Retention call", "eligibility": "needs.churn > 0.5",
         "priority": 2.0},
        {"name": "upsell", "eligibility": "needs.upgrade > 0.5"}]}, headers=api.h())
    actions = c.get("/v1/customers/a/next-best-actions", headers=api.h("read")).json()
    assert [a["action"] for a in actions["actions"]] == ["save"]
    api.store.segments.replace(api.tid, "rfm", {"a": "champions"})
    assert c.get("/v1/segments", headers=api.h("read")).json() == {
        "segmentations": {"rfm": {"champions": 1}}}


def test_health_ready_metrics(api: Api) -> None:
    c = api.client
    assert c.get("/healthz").json() == {"status": "ok"}
    assert c.get("/readyz").json()["status"] == "ready"
    c.get("/v1/segments", headers=api.h("read"))
    text = c.get("/metrics").text
    assert 'tailorcrm_http_requests_total{method="GET",route="/v1/segments",status="200"}' \
        in text
    assert "tailorcrm_http_request_seconds_bucket" in text


def test_job_of_unknown_id_is_not_found(api: Api) -> None:
    r = api.client.get("/v1/jobs/nope", headers=api.h("read"))
    assert r.status_code == 404


def test_values_the_database_refuses_are_422(api: Api) -> None:
    # (a NUL in an id is refused by the id rule on every backend: see test_api_hostile.py)
    assert api.client.post("/v1/schema/customer/fields", json={"name": "note", "type": "string"},
                           headers=api.h("admin")).status_code == 201
    r = api.client.post("/v1/customers:batch", json={"customers": [
        {"customer_id": "a", "attributes": {"note": "a\x00b"}}]}, headers=api.h("write"))
    if api.store.backend == "postgresql":  # PostgreSQL text and JSONB cannot hold NUL
        assert r.status_code == 422, r.text
        _error(r.json(), "validation_error")
    else:
        assert r.status_code == 200
