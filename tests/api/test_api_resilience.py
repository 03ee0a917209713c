"""The server under failure: a 500 keeps the keep-alive connection (real uvicorn), a model that
cannot load answers 503 and makes /readyz say so, and one tenant's broken model leaves the
others served."""

from __future__ import annotations

import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from api_helpers import Api, make_api, seed
from fastapi.testclient import TestClient

from tailorcrm.api import create_app
from tailorcrm.settings import Settings


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture()
def live_server(sqlite_url: str, tmp_path: Path) -> Iterator[int]:
    """A real uvicorn server in this process, with one extra route that fails unexpectedly."""
    app = create_app(Settings(database_url=sqlite_url, artifacts_dir=tmp_path / "a"))

    def boom() -> None:
        raise RuntimeError("an unexpected defect")

    app.add_api_route("/boom", boom)
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "server did not start"
        time.sleep(0.05)
    yield port
    server.should_exit = True
    thread.join(timeout=10)


def _read_response(sock: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n")
                  if line.lower().startswith(b"content-length:"))
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return head + b"\r\n\r\n" + body


def test_a_500_keeps_the_keep_alive_connection_open(live_server: int) -> None:
    with socket.create_connection(("127.0.0.1", live_server), timeout=10) as sock:
        sock.sendall(b"GET /boom HTTP/1.1\r\nHost: x\r\n\r\n")
        first = _read_response(sock)
        assert first.startswith(b"HTTP/1.1 500"), first
        assert b'"internal_error"' in first and b"connection: close" not in first.lower()
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        second = _read_response(sock)
        assert second.startswith(b"HTTP/1.1 200"), second


def _train(api: Api) -> None:
    job = api.client.post("/v1/jobs/train", json={"needs": False, "segments": False},
                          headers=api.h("write")).json()
    assert api.wait_job(job["job_id"])["status"] == "succeeded"


def test_a_model_that_cannot_load_answers_503_and_readyz_says_so(database_url: str,
                                                                  tmp_path: Path) -> None:
    artifacts = tmp_path / "artifacts"
    api = make_api(database_url, artifacts)
    try:
        seed(api)
        _train(api)
        shutil.rmtree(artifacts / f"tenant-{api.tid}")  # the artifact is gone (disk, volume)
        fresh = TestClient(create_app(Settings(database_url=database_url,
                                               artifacts_dir=artifacts), api.store))
        assert fresh.get("/readyz").status_code == 200  # nothing tried yet
        for _ in range(3):  # the first tries to load; the next ones back off without trying
            r = fresh.get("/v1/customers/c0/recommendations", headers=api.h("read"))
            assert r.status_code == 503, r.text
            assert r.json()["error"]["code"] == "storage_error"
            assert int(r.headers["Retry-After"]) >= 1
        ready = fresh.get("/readyz")
        assert ready.status_code == 503
        assert str(api.tid) in ready.json()["error"]["details"]["tenants"]
        # another tenant with a healthy model keeps the process ready, the failure listed
        other = api.store.tenants.ensure("other")
        _, key = api.store.keys.create(other, ["admin"])
        headers = {"Authorization": f"Bearer {key}"}
        for customer in ("a", "b"):
            fresh.put(f"/v1/customers/{customer}", json={}, headers=headers)
        fresh.post("/v1/items:batch", json={"items": [{"item_id": "x"}, {"item_id": "y"}]},
                   headers=headers)
        fresh.post("/v1/events", headers=headers, json=[
            {"customer_id": c, "item_id": i, "type": "purchase", "ts": "2025-01-01T00:00:00Z"}
            for c, i in (("a", "x"), ("b", "x"), ("b", "y"))])
        job = fresh.post("/v1/jobs/train", json={"needs": False, "segments": False},
                         headers=headers).json()
        deadline = time.monotonic() + 120
        while fresh.get(f"/v1/jobs/{job['job_id']}", headers=headers).json()["status"] in (
                "queued", "running"):
            assert time.monotonic() < deadline
            time.sleep(0.1)
        assert fresh.get("/v1/customers/a/recommendations", headers=headers).status_code == 200
        ready = fresh.get("/readyz")
        assert ready.status_code == 200
        assert str(api.tid) in ready.json()["degraded"]
    finally:
        api.store.close()
