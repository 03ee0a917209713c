"""``GET /v1/models``: the tenant's model versions with their validation scores and choice."""

from __future__ import annotations

from pathlib import Path

from api_helpers import make_api, seed


def test_models_route_lists_versions_with_the_choice(tmp_path: Path) -> None:
    api = make_api(f"sqlite:///{tmp_path / 'db.sqlite'}", tmp_path / "artifacts")
    seed(api)
    empty = api.client.get("/v1/models", headers=api.h("read"))
    assert empty.status_code == 200 and empty.json() == {"models": []}
    r = api.client.post("/v1/jobs/train", json={"needs": False, "segments": False,
                                                "strategies": False}, headers=api.h("write"))
    assert api.wait_job(r.json()["job_id"])["status"] == "succeeded"
    body = api.client.get("/v1/models?name=recommender", headers=api.h("read")).json()
    [model] = body["models"]
    assert model["active"] and model["name"] == "recommender"
    selection = model["selection"]
    assert selection["chosen"] and "popularity" in selection["scores"]
    assert "margin_over_popularity" in selection and selection["carve"]["kind"]
    assert model["stats"]["customers"] == 40
    record = api.store.models.active(api.tid, "recommender")
    assert record is not None and record.metrics["selection"] == selection
    other = api.store.tenants.ensure("other")
    key = api.store.keys.create(other, ["read"])[1]
    theirs = api.client.get("/v1/models", headers={"Authorization": f"Bearer {key}"})
    assert theirs.json() == {"models": []}
    assert api.client.get("/v1/models").status_code == 401
    api.store.close()
