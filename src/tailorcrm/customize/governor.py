"""Per-tenant limits on rule evaluation in one server process: concurrency and CPU share.

cel-python is pure Python: while one thread walks an expression it holds the interpreter
lock, so a tenant whose rules are costly slows every other request of the process, even
when each evaluation stays within its budget. The governor keeps that bounded per tenant:

* at most ``tenant_concurrency`` of a tenant's rule-evaluating requests run at once;
* a token bucket of CPU time: a tenant's rule evaluation may use ``tenant_cpu_share``
  CPU-seconds per second, with bursts up to ``tenant_cpu_burst_ms``.

A request that cannot run yet *waits without holding a thread* (it is a coroutine) until
both allow it or 60 % of its :class:`~tailorcrm.customize.budget.RequestBudget` time has
passed; in the latter case it still answers in time, with every rule failed safe
(``limit="tenant_throttled"``). Waiting, rather than refusing at once, also slows a client
that hammers the server in a closed loop. Limits are per server process (with several
workers, each process has its own).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from tailorcrm.customize.budget import RequestBudget, RuleLimits

THROTTLED = "tenant_throttled"
WAIT_RESERVE = 0.4
"""Share of ``request_ms`` a waiting request keeps for its rules and the rest of its work
(it waits for its turn for at most 60 % of its budget)."""


@dataclass
class _Tenant:
    tokens: float
    stamp: float
    active: int = 0
    waiters: deque[asyncio.Future[None]] = field(default_factory=deque)


class TenantGovernor:
    """Admits rule-evaluating requests per tenant (see the module docstring)."""

    def __init__(self, limits: RuleLimits) -> None:
        self.limits = limits
        self._burst = limits.tenant_cpu_burst_ms / 1000
        self._tenants: dict[str, _Tenant] = {}
        self._lock = threading.Lock()

    def _tenant(self, name: str, now: float) -> _Tenant:
        state = self._tenants.get(name)
        if state is None:
            state = self._tenants[name] = _Tenant(self._burst, now)
        state.tokens = min(self._burst, state.tokens
                           + (now - state.stamp) * self.limits.tenant_cpu_share)
        state.stamp = now
        return state

    def tokens(self, tenant: str) -> float:
        """CPU-seconds the tenant may spend now (negative: in debt)."""
        with self._lock:
            return self._tenant(tenant, time.perf_counter()).tokens

    @asynccontextmanager
    async def admit(self, tenant: str, budget: RequestBudget) -> AsyncIterator[bool]:
        """Wait for the tenant's turn within ``budget``; yields whether it was admitted.

        Not admitted: ``budget.refused`` is set, so every evaluation fails safe at once.
        Admitted: the CPU the request's evaluations used is charged when it leaves.
        """
        wait = (1 - WAIT_RESERVE) * self.limits.request_ms / 1000
        admitted = await self._acquire(tenant, min(budget.deadline, budget.started + wait))
        if not admitted:
            budget.refused = THROTTLED
        try:
            yield admitted
        finally:
            if admitted:
                self._release(tenant, budget.cpu_seconds)

    async def _acquire(self, tenant: str, deadline: float) -> bool:
        loop = asyncio.get_running_loop()
        while True:
            waiter: asyncio.Future[None] | None = None
            with self._lock:
                now = time.perf_counter()
                state = self._tenant(tenant, now)
                if state.active < self.limits.tenant_concurrency and state.tokens > 0:
                    state.active += 1
                    return True
                remaining = deadline - now
                if remaining <= 0:
                    return False
                if state.tokens <= 0:  # in debt: wait until the bucket has refilled
                    pause = min(remaining, -state.tokens / self.limits.tenant_cpu_share + 1e-3)
                else:  # all slots taken: wait to be woken by a release
                    waiter = loop.create_future()
                    state.waiters.append(waiter)
                    pause = remaining
            if waiter is None:
                await asyncio.sleep(pause)
                continue
            try:
                await asyncio.wait_for(waiter, pause)
            except TimeoutError:
                pass
            finally:
                with self._lock:
                    if waiter in state.waiters:
                        state.waiters.remove(waiter)
                    elif waiter.cancelled():
                        self._wake_next(state)  # woken as it timed out: pass the turn on

    def _release(self, tenant: str, cpu_seconds: float) -> None:
        with self._lock:
            state = self._tenant(tenant, time.perf_counter())
            state.active -= 1
            state.tokens -= cpu_seconds
            self._wake_next(state)

    @staticmethod
    def _wake_next(state: _Tenant) -> None:
        """Wake the first waiter still waiting (call with the lock held)."""
        while state.waiters:
            waiter = state.waiters.popleft()
            if not waiter.done():
                waiter.get_loop().call_soon_threadsafe(_wake, waiter)
                return


def _wake(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)
