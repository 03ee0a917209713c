"""Outcomes attributed to the variant a customer was shown: per-customer values of each metric.

The unit of analysis is the customer (the unit of randomisation), so every metric is a value
per exposed customer and the tests of :mod:`tailorcrm.experiments.stats` see independent
observations. Two views:

* ``last_touch``: an event carrying a recommendation id of this experiment counts for the
  variant in the id (exact); any other event counts for the variant of the customer's latest
  exposure before it, when it came at most ``window_hours`` after that exposure.
* ``any_exposure``: exact as above; any other event counts when the customer was exposed at
  any time before it (no window).

A customer is in the variant of their first consented exposure. Customers exposed only
without personalization consent (served the control) are counted apart; an outcome crediting
a variant other than the customer's (consent or config changed mid-test) is dropped and
counted as a crossover.
"""

from __future__ import annotations

import bisect
import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np

VIEWS = ("last_touch", "any_exposure")
ACCEPTED_TYPES = frozenset({"feedback", "action_accepted"})
REJECTED_TYPES = frozenset({"reject", "action_rejected"})


@dataclass(frozen=True)
class Exposure:
    """A customer was shown ``variant`` at ``ts`` (``consented``: with personalization)."""

    customer_id: str
    variant: str
    ts: dt.datetime
    consented: bool = True


@dataclass(frozen=True)
class Outcome:
    """An event of an exposed customer; ``variant`` is the variant of this experiment a
    verified recommendation id on it names (None: no id, or an id of something else)."""

    customer_id: str
    type: str
    ts: dt.datetime
    value: float | None = None
    variant: str | None = None


@dataclass(frozen=True)
class Rules:
    """What counts as what, and the windows."""

    start: dt.datetime
    end: dt.datetime | None
    window: dt.timedelta
    churn: dt.timedelta
    as_of: dt.datetime
    purchase_types: frozenset[str] = frozenset({"purchase"})
    click_types: frozenset[str] = frozenset({"click"})


@dataclass
class VariantData:
    """Per-customer values of one variant in one view (arrays aligned on ``customers``)."""

    customers: list[str] = field(default_factory=list)
    exposures: int = 0
    converted: np.ndarray = field(default_factory=lambda: np.zeros(0))
    revenue: np.ndarray = field(default_factory=lambda: np.zeros(0))
    clicked: np.ndarray = field(default_factory=lambda: np.zeros(0))
    accepted: np.ndarray = field(default_factory=lambda: np.zeros(0))
    churned: np.ndarray = field(default_factory=lambda: np.zeros(0))  # eligible customers only
    purchases: int = 0
    accepted_events: int = 0
    rejected_events: int = 0

    def values(self, metric: str) -> np.ndarray:
        """The per-customer values of ``metric``."""
        return {"conversion": self.converted, "revenue": self.revenue, "click": self.clicked,
                "accepted": self.accepted, "churn": self.churned}[metric]


@dataclass
class Attributed:
    """Both views, and what was counted apart."""

    views: dict[str, dict[str, VariantData]]
    without_consent: VariantData
    crossovers: int = 0
    exact: int = 0


@dataclass
class _Customer:
    variant: str | None = None
    times: list[dt.datetime] = field(default_factory=list)
    variants: list[str] = field(default_factory=list)
    exposures: int = 0
    first: dt.datetime | None = None


def _customers(exposures: Iterable[Exposure]) -> tuple[dict[str, _Customer], dict[str, int]]:
    """Consented customers with their sorted exposures; exposures of the unconsented."""
    out: dict[str, _Customer] = {}
    unconsented: dict[str, int] = defaultdict(int)
    for e in sorted(exposures, key=lambda x: x.ts):
        if not e.consented:
            unconsented[e.customer_id] += 1
            continue
        c = out.setdefault(e.customer_id, _Customer())
        if c.variant is None:
            c.variant, c.first = e.variant, e.ts
        c.times.append(e.ts)
        c.variants.append(e.variant)
        c.exposures += 1
    return out, {k: v for k, v in unconsented.items() if k not in out}


def _credit(c: _Customer, o: Outcome, rules: Rules, view: str) -> str | None:
    """The variant ``o`` counts for in ``view`` (None: not attributed)."""
    if o.variant is not None:
        return o.variant
    at = bisect.bisect_right(c.times, o.ts) - 1
    if at < 0:
        return None  # before any exposure
    if view == "last_touch":
        return c.variants[at] if o.ts - c.times[at] <= rules.window else None
    return c.variant


def _blank(ids: list[str]) -> dict[str, np.ndarray]:
    return {k: np.zeros(len(ids)) for k in ("converted", "revenue", "clicked", "accepted")}


def attribute(exposures: Iterable[Exposure], outcomes: Iterable[Outcome],
              variants: Iterable[str], rules: Rules) -> Attributed:
    """Per-customer metric values of every variant, in both views."""
    people, unconsented = _customers(exposures)
    names = list(variants)
    members: dict[str, list[str]] = {v: [] for v in names}
    for cid, person in people.items():
        if person.variant in members:
            members[person.variant].append(cid)
    position = {cid: i for v in names for i, cid in enumerate(members[v])}
    cols = {view: {v: _blank(members[v]) for v in names} for view in VIEWS}
    counts = {view: {v: [0, 0, 0] for v in names} for view in VIEWS}
    last_activity: dict[str, list[dt.datetime]] = defaultdict(list)
    crossovers = exact = 0
    horizon = None if rules.end is None else rules.end + rules.window
    for o in outcomes:
        c = people.get(o.customer_id)
        if c is None or c.variant not in members:
            continue
        last_activity[o.customer_id].append(o.ts)
        if o.ts < rules.start or (horizon is not None and o.ts > horizon):
            continue
        exact += o.variant is not None
        for view in VIEWS:
            got = _credit(c, o, rules, view)
            if got is None:
                continue
            if got != c.variant:
                crossovers += view == "last_touch"
                continue
            row, col, cnt = position[o.customer_id], cols[view][got], counts[view][got]
            if o.type in rules.purchase_types:
                col["converted"][row] = 1.0
                col["revenue"][row] += float(o.value or 0.0)
                cnt[0] += 1
            elif o.type in rules.click_types:
                col["clicked"][row] = 1.0
            elif o.type in ACCEPTED_TYPES:
                col["accepted"][row] = 1.0
                cnt[1] += 1
            elif o.type in REJECTED_TYPES:
                cnt[2] += 1
    churned = _churn(people, members, last_activity, rules)
    views = {view: {v: VariantData(
        customers=members[v], exposures=sum(people[c].exposures for c in members[v]),
        converted=cols[view][v]["converted"], revenue=cols[view][v]["revenue"],
        clicked=cols[view][v]["clicked"], accepted=cols[view][v]["accepted"],
        churned=churned[v], purchases=counts[view][v][0], accepted_events=counts[view][v][1],
        rejected_events=counts[view][v][2]) for v in names} for view in VIEWS}
    apart = VariantData(customers=sorted(unconsented), exposures=sum(unconsented.values()))
    return Attributed(views, apart, crossovers, exact)


def _churn(people: Mapping[str, _Customer], members: Mapping[str, list[str]],
           activity: Mapping[str, list[dt.datetime]], rules: Rules) -> dict[str, np.ndarray]:
    """1 for a customer with no event within ``churn`` of first exposure, 0 with one; only
    customers whose window has passed by ``as_of`` (others are not yet known)."""
    out = {}
    for v, ids in members.items():
        flags = []
        for cid in ids:
            first = people[cid].first
            if first is None or first + rules.churn > rules.as_of:
                continue
            active = any(first < t <= first + rules.churn for t in activity.get(cid, ()))
            flags.append(0.0 if active else 1.0)
        out[v] = np.asarray(flags, dtype=float)
    return out
