"""Failed authentications: logged, and limited per client address (a brute-force brake).

Why by hand: the limit must count only *failed* authentications and share the key cache's
process, which rate-limit libraries for FastAPI (slowapi, fastapi-limiter) do not offer without
Redis or a decorator per route; this is a fixed window per address in a bounded dict.
"""

from __future__ import annotations

import logging
import threading
import time

from tailorcrm.errors import RateLimitedError

log = logging.getLogger("tailorcrm.auth")

MAX_FAILURES = 20  # failed authentications per address and window
WINDOW_S = 60.0
MAX_TRACKED = 50_000  # addresses remembered at once (memory bound under a spray of addresses)


class AuthThrottle:
    """Counts failed authentications per client address in fixed windows."""

    def __init__(self, max_failures: int = MAX_FAILURES, window_s: float = WINDOW_S) -> None:
        self.max_failures = max_failures
        self.window_s = window_s
        self._windows: dict[str, tuple[float, int]] = {}
        self._lock = threading.Lock()

    def check(self, client: str) -> None:
        """Raise RateLimitedError while ``client`` is over its budget of failures."""
        found = self._windows.get(client)
        if found is None:
            return
        ends, count = found
        now = time.monotonic()
        if now >= ends:
            return
        if count >= self.max_failures:
            raise RateLimitedError("too many failed authentications from this address; "
                                   "try again later", retry_after=max(1, round(ends - now)))

    def failed(self, client: str, reason: str, key_id: str | None) -> None:
        """Record and log one failed authentication of ``client``."""
        now = time.monotonic()
        with self._lock:
            if len(self._windows) >= MAX_TRACKED:
                self._windows = {c: w for c, w in self._windows.items() if w[0] > now}
                if len(self._windows) >= MAX_TRACKED:
                    self._windows.clear()
            ends, count = self._windows.get(client, (0.0, 0))
            if now >= ends:
                ends, count = now + self.window_s, 0
            self._windows[client] = (ends, count + 1)
        log.warning("failed authentication from %s: %s (key id %s, %d in this window)",
                    client, reason, key_id or "-", count + 1)
