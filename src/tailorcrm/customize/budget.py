"""Run-time cost budgets of rule evaluation: steps, sizes and time, per evaluation and request.

Static checks (:mod:`tailorcrm.customize.cel_check`) bound an expression's size, not its cost:
``customer.tags.all(x, customer.tags.all(y, x != y))`` is small and quadratic in the data.
So every evaluation also runs under an :class:`EvalMeter`, enforced *while it runs* by the
tree-walking evaluator of :mod:`tailorcrm.customize.cel`:

* **steps**: every visit of a parse-tree node (macro iterations included) is one step;
* **sizes**: a string, list or map a rule *builds* (``+``, ``map``, ``filter``, literals,
  ``string()``) may not exceed ``max_string`` characters / ``max_list`` entries, and all it
  builds in one evaluation may not exceed ``eval_alloc`` characters + entries in total;
* **time**: a wall-clock deadline, checked at every step.

A :class:`RequestBudget` spans every evaluation of one request (steps and a deadline over
all of them, plus what was refused before anything ran, e.g. a tenant out of quota); once
spent, the remaining evaluations fail at their first step. Exceeding any limit raises
:class:`BudgetExceeded`, which :meth:`CompiledExpression.evaluate` turns into a
:class:`~tailorcrm.errors.RuleError` with ``reason="budget"`` and ``limit=<which>``: the
existing fail-safe paths then skip the item or action, and the failure is reported.
"""

from __future__ import annotations

import logging
import math
import sys
import time
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

log = logging.getLogger(__name__)


class RuleLimits(BaseModel):
    """Run-time budgets of rule evaluation and per-tenant limits (settings ``rule_limits``).

    Defaults are measured (``benchmarks/bench_noisy_neighbour.py``, docs/customization.md):
    a normal rule takes 5-50 steps and well under 1 ms; a macro over a 256-element list
    about 1,300 steps and 30-50 ms in cel-python.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    eval_steps: int = Field(5_000, gt=0, description="Tree-walk steps of one evaluation.")
    eval_ms: float = Field(50.0, gt=0, description="Wall-clock time of one evaluation.")
    eval_alloc: int = Field(262_144, gt=0,
                            description="Characters + entries one evaluation may build.")
    max_string: int = Field(65_536, gt=0, description="Characters of a string a rule builds.")
    max_list: int = Field(10_000, gt=0, description="Entries of a list or map a rule builds.")
    request_steps: int = Field(50_000, gt=0, description="Steps of all evaluations of a request.")
    request_ms: float = Field(250.0, gt=0,
                              description="Time within which a rule-evaluating request "
                                          "answers: waiting for its turn and rules end at "
                                          "75 % of it, every remaining rule failing safe.")
    attribute_chars: int = Field(4_096, gt=0,
                                 description="An attribute holding more characters (in all "
                                             "its strings) is unavailable to rules.")
    attribute_items: int = Field(256, gt=0,
                                 description="An attribute holding more list/map entries (at "
                                             "any depth) is unavailable to rules.")
    tenant_concurrency: int = Field(2, gt=0,
                                    description="Rule-evaluating requests of one tenant that "
                                                "run at once (per server process).")
    tenant_cpu_share: float = Field(0.2, gt=0,
                                    description="CPU-seconds per second one tenant's rule "
                                                "evaluation may use (token-bucket rate).")
    tenant_cpu_burst_ms: float = Field(500.0, gt=0,
                                       description="Token-bucket size: CPU a quiet tenant may "
                                                   "spend at once.")
    yield_ms: float = Field(1.0, ge=0,
                            description="A running evaluation lets other threads take the "
                                        "interpreter lock this often (0: never).")


DEFAULT_RULE_LIMITS = RuleLimits()
ANSWER_RESERVE = 0.25
"""Share of ``request_ms`` kept for the request's work after its rules (the answer)."""


class BudgetExceeded(Exception):  # noqa: N818 - not an error of the caller: a limit was hit
    """A limit was reached during an evaluation (deliberately not a cel-python error type,
    so that no ``except`` inside the library swallows it)."""

    def __init__(self, limit: str, message: str) -> None:
        super().__init__(message)
        self.limit = limit
        self.message = message


class EvalMeter:
    """Counters and limits of one evaluation; the evaluator calls :meth:`check` per step."""

    __slots__ = (
        "alloc",
        "deadline",
        "max_alloc",
        "max_list",
        "max_steps",
        "max_string",
        "next_yield",
        "steps",
        "steps_limit",
        "time_limit",
        "yield_s",
    )

    def __init__(self, limits: RuleLimits, *, max_steps: int | None = None,
                 deadline: float | None = None, steps_limit: str = "eval_steps",
                 time_limit: str = "eval_time") -> None:
        now = time.perf_counter()
        self.steps = 0
        self.max_steps = limits.eval_steps if max_steps is None else max_steps
        self.steps_limit = steps_limit
        self.deadline = now + limits.eval_ms / 1000 if deadline is None else deadline
        self.time_limit = time_limit
        self.alloc = 0
        self.max_alloc = limits.eval_alloc
        self.max_string = limits.max_string
        self.max_list = limits.max_list
        self.yield_s = limits.yield_ms / 1000
        self.next_yield = now + self.yield_s if self.yield_s else float("inf")

    def check(self) -> None:
        """Count one step; raise when a step or time limit is passed."""
        self.steps += 1
        if self.steps > self.max_steps:
            raise BudgetExceeded(self.steps_limit,
                                 f"rule budget exceeded: more than {self.max_steps} steps")
        now = time.perf_counter()
        if now > self.deadline:
            raise BudgetExceeded(self.time_limit, "rule budget exceeded: out of time")
        if now > self.next_yield:
            # A pure-Python evaluation holds the interpreter lock for up to the switch
            # interval (5 ms) at a time; other requests' threads would wait behind it.
            time.sleep(0)
            self.next_yield = time.perf_counter() + self.yield_s

    def charge(self, value: Any) -> None:
        """Account for a string, list or map the rule just built."""
        if isinstance(value, str | bytes):
            size, bound, what = len(value), self.max_string, "string"
        elif isinstance(value, list | dict):
            size, bound, what = len(value), self.max_list, "list or map"
        else:
            return
        if size > bound:
            raise BudgetExceeded("size", f"rule budget exceeded: a {what} of {size:,} "
                                         f"(limit {bound:,}) was built")
        self.alloc += size
        if self.alloc > self.max_alloc:
            raise BudgetExceeded("alloc", f"rule budget exceeded: built more than "
                                          f"{self.max_alloc:,} characters and entries")


@dataclass(frozen=True)
class RuleFailure:
    """One rule or action that failed safe during a request, and why."""

    name: str
    reason: str  # "budget" for a limit, else the RuleError reason (e.g. "eval")
    limit: str | None
    message: str

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "reason": self.reason, "limit": self.limit,
                "message": self.message}


@dataclass
class RequestBudget:
    """What all rule evaluations of one request may still spend, and what failed.

    ``refused`` (e.g. ``"tenant_throttled"``) makes every evaluation fail at once: the
    tenant's limits did not let this request run rules in time.
    """

    limits: RuleLimits = DEFAULT_RULE_LIMITS
    tenant: str = ""
    deadline: float = 0.0
    started: float = 0.0
    steps_left: int = 0
    cpu_seconds: float = 0.0
    evaluations: int = 0
    refused: str | None = None
    failures: list[RuleFailure] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.started = self.started or time.perf_counter()
        if not self.deadline:
            share = (1 - ANSWER_RESERVE) * self.limits.request_ms / 1000
            self.deadline = self.started + share
        if not self.steps_left:
            self.steps_left = self.limits.request_steps

    @classmethod
    def unbounded(cls, limits: RuleLimits = DEFAULT_RULE_LIMITS) -> RequestBudget:
        """Only the per-evaluation limits: no request deadline or step total (offline runs)."""
        return cls(limits, deadline=math.inf, steps_left=sys.maxsize)

    def meter(self) -> EvalMeter:
        """A meter for the next evaluation: the per-evaluation limits within what is left."""
        if self.refused is not None:
            raise BudgetExceeded(self.refused, f"rule budget exceeded: {self.refused}")
        if self.steps_left <= 0:
            raise BudgetExceeded("request_steps", "rule budget of the request spent (steps)")
        limits = self.limits
        own_deadline = time.perf_counter() + limits.eval_ms / 1000
        by_request_steps = self.steps_left < limits.eval_steps
        by_request_time = self.deadline < own_deadline
        return EvalMeter(limits, max_steps=min(self.steps_left, limits.eval_steps),
                         deadline=min(self.deadline, own_deadline),
                         steps_limit="request_steps" if by_request_steps else "eval_steps",
                         time_limit="request_time" if by_request_time else "eval_time")

    def exclude(self, seconds: float) -> None:
        """Give back time spent on something that is no rule's cost (compiling: cached per
        expression, but the first compile in a process builds the parser, ~0.3 s)."""
        self.deadline += seconds

    def settle(self, meter: EvalMeter, cpu_seconds: float) -> None:
        """Charge one finished (or stopped) evaluation."""
        self.steps_left -= meter.steps
        self.cpu_seconds += cpu_seconds
        self.evaluations += 1

    def settle_batch(self, steps: int, evaluations: int, cpu_seconds: float) -> None:
        """Charge one vectorised evaluation of ``evaluations`` rows at once
        (:mod:`tailorcrm.customize.rule_batch`); ``steps`` is an upper bound of what the
        interpreter would have spent on them (tree nodes x rows)."""
        self.steps_left -= steps
        self.cpu_seconds += cpu_seconds
        self.evaluations += evaluations

    def report(self, name: str, reason: str, limit: str | None, message: str) -> None:
        """Record a rule that failed safe (logged at most once a minute per tenant, rule and
        kind of failure)."""
        self.failures.append(RuleFailure(name, reason, limit, message))
        warn_once(self.tenant, name, limit or reason, message)

    @property
    def exceeded(self) -> list[RuleFailure]:
        """The failures due to a budget or tenant limit."""
        return [f for f in self.failures if f.reason == "budget"]


_WARNED: dict[tuple[str, str, str], float] = {}
WARN_EVERY_S = 60.0


def warn_once(tenant: str, name: str, kind: str, message: str) -> None:
    """A warning naming the tenant and rule, at most once per ``WARN_EVERY_S`` per kind."""
    key = (tenant, name, kind)
    now = time.monotonic()
    if now - _WARNED.get(key, -WARN_EVERY_S) < WARN_EVERY_S:
        return
    if len(_WARNED) > 10_000:
        _WARNED.clear()
    _WARNED[key] = now
    log.warning("tenant %s: rule %r failed safe (%s): %s", tenant or "-", name, kind, message)
