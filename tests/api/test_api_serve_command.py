"""What ``tailorcrm demo`` prints before serving: a key and a curl line that work."""

from __future__ import annotations

import shlex

from api_helpers import Api, seed

from tailorcrm.cli.serve import api_access
from tailorcrm.settings import Settings


def test_api_access_gives_a_working_key_and_curl_line(api: Api) -> None:
    seed(api)
    settings = Settings(database_url="sqlite://", host="127.0.0.1", port=8123)
    secret, curl = api_access(api.store, api.tid, settings, "c3")
    parts = shlex.split(curl)
    assert parts[:3] == ["curl", "-H", f"Authorization: Bearer {secret}"]
    url = parts[3]
    assert url.startswith("http://127.0.0.1:8123/v1/customers/c3/recommendations")
    r = api.client.get(url.removeprefix("http://127.0.0.1:8123"),
                       headers={"Authorization": f"Bearer {secret}"})
    assert r.status_code == 409  # the key works; this tenant has no trained model yet
    assert r.json()["error"]["code"] == "not_fitted"
    assert api.client.put("/v1/customers/c3", json={},
                          headers={"Authorization": f"Bearer {secret}"}).status_code == 200
