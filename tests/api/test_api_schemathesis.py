"""Property-based requests generated from the OpenAPI document (Schemathesis): no 5xx, every
error in the one JSON shape, and the document tells the truth about the API.

Conformance checks run on every generated case: every status answered is documented, every
body matches its documented schema and content type, and a request the document calls valid
is never refused by request validation. A schema-valid request may still be refused by the
*tenant's* data rules (a custom field the tenant never declared, an event type outside its
catalog, a time outside the accepted window): those answers are 422 with row, field and
reason, documented on every route, and are told apart from request-validation refusals
(``"the request is invalid"``), which would mean the document lies.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import schemathesis
from api_helpers import make_api, seed
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    positive_data_acceptance,
    response_schema_conformance,
    status_code_conformance,
)

SKIP = {"/v1/jobs/train"}  # each case would start a training thread; covered elsewhere
CHECKS = (not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance)
REQUEST_INVALID = "the request is invalid"


def _refused_by_request_validation(response: Any) -> bool:
    if response.status_code != 422:
        return True  # positive_data_acceptance failed with another status: a real failure
    try:
        return bool(response.json()["error"]["message"] == REQUEST_INVALID)
    except (ValueError, KeyError, TypeError):
        return True


def test_generated_requests_get_no_5xx_and_conform_to_the_document(database_url: str,
                                                                    tmp_path: Path) -> None:
    api = make_api(database_url, tmp_path / "artifacts", max_request_bytes=100_000,
                   auth_failures_per_minute=1_000_000)
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
            if 400 <= response.status_code < 500:
                body = response.json()
                if set(body) != {"error"} or not {"code", "message"} <= set(body["error"]):
                    failures.append(f"{where}: error shape {response.text[:300]}")
            for chk in CHECKS:
                try:
                    case.validate_response(response, checks=[chk], headers=headers)
                except BaseException as exc:  # Schemathesis raises failure groups
                    failures.append(f"{where}: {chk.__name__}: {str(exc)[:400]}")
            try:
                case.validate_response(response, checks=[positive_data_acceptance],
                                       headers=headers)
            except BaseException as exc:
                if _refused_by_request_validation(response):
                    failures.append(f"{where}: positive_data_acceptance: {str(exc)[:400]}")

        check()
    assert calls["n"] > 200
    assert not failures, failures[:10]
