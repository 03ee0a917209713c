"""Property-based requests generated from the OpenAPI document (Schemathesis): no 5xx, and
every error in the one JSON shape."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import schemathesis
from api_helpers import make_api, seed
from hypothesis import HealthCheck, given, settings

SKIP = {"/v1/jobs/train"}  # each case would start a training thread; covered elsewhere


def test_no_server_errors_on_generated_requests(database_url: str, tmp_path: Path) -> None:
    api = make_api(database_url, tmp_path / "artifacts", max_request_bytes=100_000)
    seed(api)
    schema = schemathesis.openapi.from_asgi("/openapi.json", api.client.app)
    headers = api.h("admin")
    failures: list[str] = []
    calls = {"n": 0}
    for result in schema.get_all_operations():
        operation = result.ok()  # type: ignore[union-attr]  # an invalid schema raises here
        if operation.path in SKIP:
            continue

        @given(case=operation.as_strategy())
        @settings(max_examples=25, deadline=None, derandomize=True,
                  suppress_health_check=list(HealthCheck))
        def check(case: Any) -> None:
            response = case.call(headers=headers)
            calls["n"] += 1
            where = f"{case.method} {case.formatted_path}"
            if response.status_code >= 500:
                failures.append(f"{where}: {response.status_code} {response.text[:300]}")
            elif response.status_code >= 400:
                body = response.json()
                if set(body) != {"error"} or not {"code", "message"} <= set(body["error"]):
                    failures.append(f"{where}: error shape {response.text[:300]}")

        check()
    assert calls["n"] > 200
    assert not failures, failures[:10]
