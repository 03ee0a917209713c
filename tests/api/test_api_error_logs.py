"""An unexpected error is logged with the route's template, never the path's customer id."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from api_helpers import make_api


def test_a_500_logs_the_route_template_not_the_customer_id(
        sqlite_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    api = make_api(sqlite_url, tmp_path / "artifacts")
    try:
        def boom(customer_id: str) -> None:
            raise RuntimeError("broken on purpose")

        api.client.app.add_api_route(  # type: ignore[attr-defined]
            "/v1/customers/{customer_id}/boom", boom, methods=["GET"])
        secret = "jane.doe-4711"
        with caplog.at_level(logging.ERROR):
            r = api.client.get(f"/v1/customers/{secret}/boom", headers=api.h("read"))
        assert r.status_code == 500 and r.json()["error"]["code"] == "internal_error"
        text = "\n".join(rec.getMessage() for rec in caplog.records)
        assert "/v1/customers/{customer_id}/boom" in text
        assert secret not in text
    finally:
        api.store.close()
