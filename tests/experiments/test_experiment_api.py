"""Experiments through the API on SQLite and PostgreSQL: config, serving under an arm,
exposures, exact and window attribution, results, consent, forged ids, tenant isolation,
stop and promote with the audit entry."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from experiment_helpers import Tenant, experiment_body, trained_tenant

from tailorcrm.customize.feedback import record_feedback
from tailorcrm.experiments.assign import assign
from tailorcrm.experiments.config import Experiment
from tailorcrm.serving.rec_ids import parse_recommendation_id, recommendation_key


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres",
                                                               marks=pytest.mark.postgres)])
def tenant(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[Tenant]:
    folder = tmp_path_factory.mktemp("exp")
    url = f"sqlite:///{folder / 'db.sqlite'}" if request.param == "sqlite" else str(
        request.getfixturevalue("postgres_module_url"))
    t = trained_tenant(url, folder / "artifacts")
    yield t
    t.store.close()


def _recs(t: Tenant, customer: str, strategy: str = "homepage") -> dict[str, object]:
    r = t.client.get(f"/v1/customers/{customer}/recommendations?strategy={strategy}&n=5",
                     headers=t.h("read"))
    assert r.status_code == 200, r.text
    return dict(r.json())


def test_bad_configs_name_the_field(tenant: Tenant) -> None:
    bad = {
        "shares": ({"variants": [{"name": "control", "share": 0.5, "control": True},
                                 {"name": "x", "share": 0.6, "strategy": "b"}]}, "shares"),
        "no control": ({"variants": [{"name": "p", "share": 0.5, "strategy": "a"},
                                     {"name": "q", "share": 0.5, "strategy": "b"}]}, "control"),
        "unknown strategy": ({"variants": [
            {"name": "control", "share": 0.5, "control": True},
            {"name": "x", "share": 0.5, "strategy": "nope"}]}, "variants.x"),
        "unknown key": ({"colour": "red"}, "colour"),
        "end before start": ({"end": "2000-01-01T00:00:00Z"}, "end"),
    }
    for label, (change, word) in bad.items():
        r = tenant.client.put("/v1/experiments/broken", json=experiment_body("broken", **change),
                              headers=tenant.h("admin"))
        assert r.status_code in (404, 422), (label, r.text)
        assert word in r.text, (label, r.text)
    assert tenant.client.get("/v1/experiments/broken",
                             headers=tenant.h("read")).status_code == 404
    r = tenant.client.put("/v1/experiments/hp-test", json=experiment_body(),
                          headers=tenant.h("write"))
    assert r.status_code == 403  # saving an experiment takes an admin key


def test_an_experiment_runs_end_to_end(tenant: Tenant) -> None:
    t = tenant
    r = t.client.put("/v1/experiments/hp-test", json=experiment_body(), headers=t.h("admin"))
    assert r.status_code == 200, r.text
    assert r.json()["version"] == 1
    exp = Experiment.model_validate(r.json()["body"])
    # a second experiment on the same placement at the same time is refused
    clash = t.client.put("/v1/experiments/clash", json=experiment_body("clash"),
                         headers=t.h("admin"))
    assert clash.status_code == 409 and "placement" in clash.text
    key = recommendation_key(t.store, t.tid)
    served: dict[str, str] = {}
    for c in range(120):
        cid = f"c{c}"
        body = _recs(t, cid)
        ref = parse_recommendation_id(key, str(body["recommendation_id"]))
        expected = assign(exp, t.tid, cid, consented=cid != "c7").variant
        assert (ref.experiment, ref.variant) == ("hp-test", expected.name), cid
        assert ref.strategy == expected.strategy
        served[cid] = str(body["recommendation_id"])
    again = _recs(t, "c3")  # sticky: the same arm on the next request
    assert parse_recommendation_id(key, str(again["recommendation_id"])).variant == \
        parse_recommendation_id(key, served["c3"]).variant
    assert parse_recommendation_id(key, served["c7"]).variant == "control"  # no consent
    plain = _recs(t, "c3", strategy="a")  # another placement: no experiment
    assert parse_recommendation_id(key, str(plain["recommendation_id"])).experiment is None
    t.flush()

    now = dt.datetime.now(dt.UTC)
    arms = {cid: parse_recommendation_id(key, rid).variant for cid, rid in served.items()}
    diverse = [c for c, v in arms.items() if v == "diverse"]
    control = [c for c, v in arms.items() if v == "control" and c != "c7"]
    events = []
    for cid in diverse[:20]:  # exact: the purchase carries the recommendation id
        events.append({"customer_id": cid, "item_id": "i1", "type": "purchase", "value": 10.0,
                       "ts": now.isoformat(), "attributes": {"recommendation_id": served[cid]}})
    for cid in control[:5]:  # by window: no id, within 1 h of the exposure
        events.append({"customer_id": cid, "item_id": "i2", "type": "purchase", "value": 5.0,
                       "ts": (now + dt.timedelta(minutes=30)).isoformat()})
    for cid in control[5:8]:  # outside the window: any-exposure only
        events.append({"customer_id": cid, "item_id": "i2", "type": "purchase", "value": 5.0,
                       "ts": (now + dt.timedelta(hours=3)).isoformat()})
    # a forged id naming the diverse arm on a control customer's purchase: not exact
    forged = served[control[9]][:-3] + ("AAA" if not served[control[9]].endswith("AAA")
                                        else "BBB")
    events.append({"customer_id": control[9], "item_id": "i3", "type": "purchase",
                   "value": 7.0, "ts": now.isoformat(),
                   "attributes": {"recommendation_id": forged}})
    # another customer's id: not exact either (the purchase counts by window for its buyer)
    events.append({"customer_id": control[10], "item_id": "i3", "type": "purchase",
                   "value": 7.0, "ts": now.isoformat(),
                   "attributes": {"recommendation_id": served[diverse[0]]}})
    r = t.client.post("/v1/events", json=events, headers=t.h("write"))
    assert r.status_code == 200 and r.json()["inserted"] == len(events), r.text
    fb = t.client.post(f"/v1/recommendations/{served[diverse[1]]}/feedback",
                       json={"item_id": "i1", "outcome": "clicked"}, headers=t.h("write"))
    assert fb.status_code == 200

    res = t.client.get("/v1/experiments/hp-test/results", headers=t.h("read"))
    assert res.status_code == 200, res.text
    got = res.json()
    last = {v["name"]: v for v in got["views"]["last_touch"]}
    anyx = {v["name"]: v for v in got["views"]["any_exposure"]}
    assert last["diverse"]["customers"] == len(diverse)
    assert last["control"]["customers"] == len(control)
    assert last["diverse"]["exposures"] == len(diverse) + (arms["c3"] == "diverse")
    assert got["without_consent"] == {"customers": 1, "exposures": 1}
    assert got["exact_attributions"] == 21  # 20 purchases and the click feedback
    conv = last["diverse"]["metrics"]["conversion"]
    assert conv["total"] == 20 and conv["test"] == "two-proportion z test"
    assert last["control"]["metrics"]["conversion"]["total"] == 7  # 5 by window + 2 same-day
    assert anyx["control"]["metrics"]["conversion"]["total"] == 10  # + 3 after the window
    assert last["diverse"]["metrics"]["revenue"]["total"] == 200.0
    assert last["diverse"]["metrics"]["revenue"]["test"] == "Welch's t test"
    assert last["diverse"]["metrics"]["click"]["total"] == 1
    assert conv["diff"] > 0 and conv["p_value"] < 0.05 and got["winner"] == "diverse"
    assert got["sample_ratio"]["mismatch"] is False
    assert any("under-powered" in w for w in got["warnings"])
    listed = t.client.get("/v1/experiments", headers=t.h("read")).json()["experiments"]
    assert [(e["name"], e["status"], e["exposures"]) for e in listed
            if e["name"] == "hp-test"] == [("hp-test", "running", 121)]  # c3 was served twice

    # started: the arms cannot change any more
    moved = experiment_body(variants=[
        {"name": "control", "share": 0.2, "strategy": "a", "control": True},
        {"name": "diverse", "share": 0.8, "strategy": "b"}])
    r = t.client.put("/v1/experiments/hp-test", json=moved, headers=t.h("admin"))
    assert r.status_code == 409 and "variants" in r.text

    r = t.client.post("/v1/experiments/hp-test/stop", json={"promote": True},
                      headers=t.h("admin"))
    assert r.status_code == 200, r.text
    done = r.json()
    assert done["winner"] == "diverse" and done["promoted_to"] == "strategy:homepage"
    home = t.client.get("/v1/strategies/homepage", headers=t.h("read")).json()
    assert home["body"]["diversity"]["max_per_group"] == 1
    assert home["body"]["name"] == "homepage"
    entries = t.store.audit.list(t.tid, action="experiment.stop")
    assert entries and entries[0].details["promoted_to"] == "strategy:homepage"
    after = _recs(t, diverse[0])  # stopped: lists are plain again
    assert parse_recommendation_id(key, str(after["recommendation_id"])).experiment is None
    old = t.client.get("/v1/experiments/hp-test?version=1", headers=t.h("read")).json()
    assert old["body"]["status"] == "running"
    assert t.client.get("/v1/experiments/hp-test",
                        headers=t.h("read")).json()["body"]["status"] == "stopped"
    restart = {**moved, "status": "running"}  # a stopped test does not restart with new arms
    r = t.client.put("/v1/experiments/hp-test", json=restart, headers=t.h("admin"))
    assert r.status_code == 409 and "variants" in r.text


def test_another_tenant_cannot_read_or_change_an_experiment(tenant: Tenant) -> None:
    t = tenant
    other = t.store.tenants.ensure("bravo")
    _, key = t.store.keys.create(other, ["admin"])
    h = {"Authorization": f"Bearer {key}"}
    body = experiment_body("iso-test", start="2030-01-01T00:00:00Z", placement="a")
    assert t.client.put("/v1/experiments/iso-test", json=body,
                        headers=t.h("admin")).status_code == 200
    for path in ("/v1/experiments/iso-test", "/v1/experiments/iso-test/results"):
        assert t.client.get(path, headers=h).status_code == 404
    r = t.client.post("/v1/experiments/iso-test/stop", json={}, headers=h)
    assert r.status_code == 404
    assert t.client.get("/v1/experiments", headers=h).json() == {"experiments": []}
    # bravo has no strategy "a": its own experiment of that name is refused, ours unchanged
    assert t.client.put("/v1/experiments/iso-test", json=body, headers=h).status_code == 404
    mine = t.client.get("/v1/experiments/iso-test", headers=t.h("read")).json()
    assert mine["version"] == 1 and mine["body"]["status"] == "running"


def test_next_best_actions_are_tested_by_catalog(tenant: Tenant) -> None:
    t = tenant
    for name, title in (("default", "Plain call"), ("bold", "Bold offer")):
        r = t.client.put(f"/v1/actions/{name}", json={"actions": [
            {"name": "call", "title": title, "eligibility": "true", "priority": 1.0}]},
            headers=t.h("admin"))
        assert r.status_code == 200, r.text
    start = (dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)).isoformat()
    body = {"name": "nba-test", "surface": "next_best_actions", "placement": "default",
            "start": start, "primary_metric": "accepted", "window_hours": 1,
            "variants": [{"name": "none", "share": 0.5, "control": True},
                         {"name": "bold", "share": 0.5, "catalog": "bold"}]}
    r = t.client.put("/v1/experiments/nba-test", json=body, headers=t.h("admin"))
    assert r.status_code == 200, r.text
    exp = Experiment.model_validate(r.json()["body"])
    seen = {}
    for c in range(40):
        cid = f"c{c}"
        r = t.client.get(f"/v1/customers/{cid}/next-best-actions", headers=t.h("read"))
        assert r.status_code == 200, r.text
        want = assign(exp, t.tid, cid, consented=cid != "c7").variant.name
        got = r.json()
        if want == "bold":
            assert got["catalog"] == "bold" and got["actions"][0]["title"] == "Bold offer"
        else:  # the control: no action at all
            assert got["actions"] == []
        seen[cid] = want
    assert t.client.get("/v1/customers/nobody/next-best-actions",
                        headers=t.h("read")).status_code == 404
    bold = [c for c, v in seen.items() if v == "bold"]
    for cid in bold[:6]:  # accepted actions (the CLI's `actions feedback` records these)
        assert record_feedback(t.store, t.tid, cid, "call", True)
    t.flush()
    res = t.client.get("/v1/experiments/nba-test/results", headers=t.h("read")).json()
    last = {v["name"]: v for v in res["views"]["last_touch"]}
    assert last["bold"]["customers"] == len(bold)
    assert last["bold"]["metrics"]["accepted"]["total"] == 6
    assert last["none"]["metrics"]["accepted"]["total"] == 0
    assert res["primary_metric"] == "accepted"
    stop = t.client.post("/v1/experiments/nba-test/stop",
                         json={"promote": True, "winner": "bold"}, headers=t.h("admin"))
    assert stop.status_code == 200 and stop.json()["promoted_to"] == "actions:default"
    r = t.client.get("/v1/customers/c0/next-best-actions", headers=t.h("read"))
    assert r.json()["actions"][0]["title"] == "Bold offer"  # promoted, for everyone
