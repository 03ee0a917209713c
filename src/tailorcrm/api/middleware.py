"""ASGI middleware: unexpected errors as 500s that keep the connection, the request body size
limit, and Prometheus request metrics."""

from __future__ import annotations

import json
import logging
import time
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tailorcrm.api.errors import error_body

log = logging.getLogger(__name__)


class CatchAllMiddleware:
    """Answer an unexpected exception with the JSON 500 here, inside the app.

    Starlette sends the 500 of an unexpected exception from its outermost middleware and then
    re-raises it, and uvicorn closes the connection, so a keep-alive client's next request is
    reset. Answering here (innermost) ends the request normally and keeps the connection.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception:
            # the route's template, never the path: a path holds customer ids (personal data)
            route = getattr(scope.get("route"), "path", None) or "(no route matched)"
            log.exception("unexpected error on %s %s", scope.get("method"), route)
            if started:  # part of the answer is out: nothing sound can follow
                raise
            body = json.dumps(error_body("internal_error", "internal server error")).encode()
            await send({"type": "http.response.start", "status": 500,
                        "headers": [(b"content-type", b"application/json"),
                                    (b"content-length", str(len(body)).encode())]})
            await send({"type": "http.response.body", "body": body})


class BodyTooLargeError(Exception):
    """Raised inside ``receive`` when a streamed body passes the limit."""


class SizeLimitMiddleware:
    """Answer 413 when Content-Length, or the bytes actually streamed, exceed ``max_bytes``."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope.get("headers") or []).get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_bytes):
            await self._reject(send)
            return
        seen = 0
        exceeded = False
        started = False

        async def limited_receive() -> Message:
            nonlocal seen, exceeded
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    exceeded = True
                    raise BodyTooLargeError
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if exceeded:  # the app answered the aborted read its own way (FastAPI: 400)
                if message["type"] == "http.response.start" and not started:
                    started = True
                    await self._reject(send)
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except BodyTooLargeError:
            if not started:
                await self._reject(send)

    async def _reject(self, send: Send) -> None:
        body = json.dumps(error_body("too_large", f"request body over {self.max_bytes} bytes",
                                     max_bytes=self.max_bytes)).encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})


class Metrics:
    """Request counters and latency histograms in their own registry (one per app).

    prometheus-client renders the exposition format and keeps the histogram buckets; with
    several uvicorn workers each process reports its own figures.
    """

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("tailorcrm_http_requests_total", "HTTP requests answered.",
                                ["method", "route", "status"], registry=self.registry)
        self.latency = Histogram("tailorcrm_http_request_seconds", "HTTP request latency.",
                                 ["method", "route"], registry=self.registry,
                                 buckets=(.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 5))
        self.events = Counter("tailorcrm_events_ingested_total", "Events stored via the API.",
                              registry=self.registry)
        self.recommendations = Counter("tailorcrm_recommendations_total",
                                       "Recommendation lists served, by source.", ["source"],
                                       registry=self.registry)


class MetricsMiddleware:
    """Count and time every HTTP request by method, route template and status."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = [500]

        async def tracking_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        finally:
            route: Any = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            method = scope.get("method", "")
            self.metrics.requests.labels(method, template, str(status[0])).inc()
            self.metrics.latency.labels(method, template).observe(time.perf_counter() - started)
