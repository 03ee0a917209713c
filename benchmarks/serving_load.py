"""The serving benchmark's load generator and server control (used by bench_serving.py).

The load generator is a closed loop in a second process: ``connections`` keep-alive
connections, each one request at a time, written by hand on asyncio streams (an HTTP client
library costs the client more CPU per request than the server spends, which on 2 cores would
measure the client instead of the server).
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing as mp
import os
import random
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

BARE_APP = '''
from fastapi import FastAPI
from fastapi.responses import JSONResponse
ITEMS = [{"item_id": f"i{i}", "score": 1.0 - i / 10, "reasons": []} for i in range(10)]
LISTS = {f"c{c}": {"recommendation_id": "x", "model_version": "v", "source": "precomputed",
                   "items": ITEMS} for c in range(1000)}
app = FastAPI()

@app.get("/v1/customers/{customer_id}/recommendations")
def recommendations(customer_id: str) -> JSONResponse:
    return JSONResponse(LISTS.get(customer_id, LISTS["c0"]))

@app.get("/readyz")
def ready() -> dict[str, str]:
    return {"status": "ok"}
'''


async def request(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                   raw: bytes) -> tuple[int, bytes]:
    writer.write(raw)
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    body = await reader.readexactly(length) if length else b""
    return status, body


def _raw(method: str, path: str, key: str, body: bytes = b"") -> bytes:
    head = (f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {key}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n")
    return head.encode() + body


def _get(kind: str, customer: str, query: str) -> str:
    if kind == "nba":
        return f"/v1/customers/{customer}/next-best-actions{query}"
    return f"/v1/customers/{customer}/recommendations{query}"


async def _load(port: int, key: str, scenario: dict[str, Any], seconds: float,
                connections: int) -> dict[str, Any]:
    """Run one scenario: ``kind`` is ``get`` (a list), ``nba``, ``events`` (batches) or
    ``event-then-get`` (an event for a customer, then that customer's list: the list's
    latency is recorded)."""
    kind = scenario["kind"]
    customers: list[str] = scenario["customers"]
    query = scenario.get("query", "?n=10")
    batch = int(scenario.get("batch", 1))
    items: list[str] = scenario.get("items", ["i0"])
    latencies: list[float] = []
    errors = 0
    acknowledged = 0
    deadline = time.perf_counter() + seconds
    rng = random.Random(scenario["name"])
    seq = [0]

    async def worker(w: int) -> None:
        nonlocal errors, acknowledged
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        while time.perf_counter() < deadline:
            customer = rng.choice(customers)
            if kind in ("events", "event-then-get"):
                seq[0] += 1
                n = batch if kind == "events" else 1
                rows = [{"idempotency_key": f"bench-{scenario['name']}-{w}-{seq[0]}-{j}",
                         "customer_id": customer if kind != "events" else rng.choice(customers),
                         "item_id": rng.choice(items), "type": "view"} for j in range(n)]
                status, body = await request(reader, writer, _raw(
                    "POST", "/v1/events", key, json.dumps(rows).encode()))
                if status != 200:
                    errors += 1
                    continue
                acknowledged += json.loads(body)["inserted"]
                if kind == "events":
                    latencies.append(0.0)
                    continue
            raw = _raw("GET", _get(kind, customer, query), key)
            started = time.perf_counter()
            status, _ = await request(reader, writer, raw)
            latencies.append(time.perf_counter() - started)
            if status != 200:
                errors += 1
        writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker(w) for w in range(connections)))
    elapsed = time.perf_counter() - started
    ms = np.asarray(latencies or [0.0]) * 1000
    return {"requests": len(latencies), "errors": errors, "seconds": round(elapsed, 2),
            "rps": round(len(latencies) / elapsed, 1),
            "events_per_s": round(acknowledged / elapsed, 1) if acknowledged else None,
            "acknowledged": acknowledged, "connections": connections,
            "p50_ms": round(float(np.percentile(ms, 50)), 2),
            "p99_ms": round(float(np.percentile(ms, 99)), 2)}


def _client(args: tuple[Any, ...], out: Any) -> None:
    out.put(asyncio.run(_load(*args)))


def run_load(port: int, key: str, scenario: dict[str, Any], seconds: float,
             connections: int) -> dict[str, Any]:
    """Run :func:`_load` in a second process and return its figures."""
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_client, args=((port, key, scenario, seconds, connections),
                                             queue))
    proc.start()
    result: dict[str, Any] = queue.get()
    proc.join()
    return result


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_ready(port: int, proc: subprocess.Popen[bytes]) -> None:
    import httpx

    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if proc.poll() is not None:
            break
        time.sleep(0.3)
    raise RuntimeError("server did not start")


def start_tailorcrm(url: str, artifacts: Path, workers: int) -> tuple[subprocess.Popen[bytes], int]:
    """``tailorcrm serve`` on a free port; returns the process and the port once ready."""
    port = free_port()
    env = {**os.environ, "TAILORCRM_ARTIFACTS_DIR": str(artifacts)}
    proc = subprocess.Popen([sys.executable, "-c", "from tailorcrm.cli.main import app; app()",
                             "serve", "--db", url, "--port", str(port), "--workers",
                             str(workers), "--log-level", "warning"], env=env)
    wait_ready(port, proc)
    return proc, port


def start_bare(folder: Path) -> tuple[subprocess.Popen[bytes], int]:
    """The stack's ceiling: a bare FastAPI endpoint serving a fixed list from a dict, under the
    same uvicorn (one worker) as ``tailorcrm serve``."""
    (folder / "bare_app.py").write_text(BARE_APP)
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "bare_app:app", "--port",
                             str(port), "--log-level", "warning", "--no-access-log"],
                            cwd=folder)
    wait_ready(port, proc)
    return proc, port


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
