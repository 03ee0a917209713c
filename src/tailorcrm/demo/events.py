"""Demo events: purchase funnels, browsing, ratings, returns, feedback and service tickets."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

from tailorcrm.demo.churn import DAYS_PER_MONTH, ChurnDraw, activity_fade
from tailorcrm.demo.config import DemoConfig
from tailorcrm.demo.customers import CustomerDraw
from tailorcrm.demo.items import ItemDraw
from tailorcrm.demo.vocabulary import CHANNELS, TICKET_TOPICS

EVENT_COLUMNS = ("idempotency_key", "customer_id", "item_id", "type", "value", "timestamp",
                 "channel", "amount", "topic")
_MINUTE = 1.0 / 1440.0
_RESAMPLE_ROUNDS = 6


def affinity(customers: CustomerDraw, items: ItemDraw) -> np.ndarray:
    """The planted affinity ``U @ V.T + item_bias`` (``n_customers x n_items``)."""
    return customers.factors @ items.factors.T + items.bias[None, :]


def softmax_rows(scores: np.ndarray, temperature: float, top_k: int | None) -> np.ndarray:
    """Row-wise softmax of ``scores / temperature``, kept to each row's ``top_k`` best."""
    z = scores / temperature
    if top_k is not None and top_k < z.shape[1]:
        kth = np.partition(z, -top_k, axis=1)[:, -top_k][:, None]
        z = np.where(z >= kth, z, -np.inf)
    z = z - z.max(axis=1, keepdims=True)
    p = np.exp(z)
    return p / p.sum(axis=1, keepdims=True)


def purchase_probabilities(config: DemoConfig, customers: CustomerDraw,
                           items: ItemDraw) -> np.ndarray:
    """Chance of each item being the one bought in a purchase (new items: zero)."""
    aff = affinity(customers, items)
    aff[:, items.is_new] = -np.inf
    return softmax_rows(aff, config.purchase_temperature, config.purchase_top_k)


@dataclass
class _Draws:
    """Accumulates (customer, item, day) triples of one kind of episode."""

    c: list[np.ndarray]
    i: list[np.ndarray]
    t: list[np.ndarray]

    @classmethod
    def empty(cls) -> _Draws:
        return cls([], [], [])

    def add(self, c: int, i: np.ndarray, t: np.ndarray) -> None:
        self.c.append(np.full(len(t), c, dtype=np.int64))
        self.i.append(i)
        self.t.append(t)

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if not self.t:
            return np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0)
        return np.concatenate(self.c), np.concatenate(self.i), np.concatenate(self.t)


def _times(rng: np.random.Generator, rate: float, lo: float, hi: float) -> np.ndarray:
    """Sorted times of a Poisson process of ``rate`` per day on ``[lo, hi)`` (callers thin it)."""
    n = rng.poisson(rate * (hi - lo))
    return np.sort(lo + rng.random(n) * (hi - lo))


def _pick(rng: np.random.Generator, probs: np.ndarray, t: np.ndarray,
          launch_day: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Items drawn from ``probs``, redrawn while not yet launched at ``t``; returns (items, ok)."""
    items = rng.choice(len(probs), size=len(t), p=probs)
    bad = launch_day[items] > t
    for _ in range(_RESAMPLE_ROUNDS):
        if not bad.any():
            break
        items[bad] = rng.choice(len(probs), size=int(bad.sum()), p=probs)
        bad = launch_day[items] > t
    return items, ~bad


def make_events(config: DemoConfig, customers: CustomerDraw, items: ItemDraw, churn: ChurnDraw,
                rng: np.random.Generator) -> pd.DataFrame:
    """Draw every customer's events from the planted affinity and churn (``EVENT_COLUMNS``)."""
    span = float((config.end_date - config.start_date).days + 1)
    aff = affinity(customers, items)
    aff[:, items.is_new] = -np.inf  # new items have no events at all
    p_buy = purchase_probabilities(config, customers, items)
    p_browse = softmax_rows(aff, config.browse_temperature, None)
    finite = np.where(np.isfinite(aff), aff, np.nan)
    z = (finite - np.nanmean(finite, axis=1, keepdims=True)) / np.nanstd(finite, axis=1,
                                                                          keepdims=True)
    mean_boost = np.exp(0.9**2 / 2)  # keeps the average ticket rate at tickets_per_month
    ticket_rate = (config.tickets_per_month / DAYS_PER_MONTH
                   * np.exp(0.9 * customers.dissatisfaction) / mean_boost)
    boost = config.churn.pre_churn_ticket_boost

    buys, browses, tickets = _Draws.empty(), _Draws.empty(), _Draws.empty()
    active_to = np.minimum(span, churn.churn_day)
    for c in np.flatnonzero(~customers.is_cold):
        lo = max(0.0, float(customers.signup_day[c])) + 0.1  # room for the pre-purchase funnel
        hi = float(active_to[c])
        if hi <= lo:
            continue
        rate = float(customers.purchase_rate[c])
        t = _times(rng, rate, lo, hi)
        t = t[rng.random(len(t)) < activity_fade(config, t, churn.churn_day[c])]
        i, ok = _pick(rng, p_buy[c], t, items.launch_day)
        buys.add(int(c), i[ok], t[ok])
        t = _times(rng, rate * config.browse_per_purchase, lo, hi)
        t = t[rng.random(len(t)) < activity_fade(config, t, churn.churn_day[c])]
        i, ok = _pick(rng, p_browse[c], t, items.launch_day)
        browses.add(int(c), i[ok], t[ok])
        t = _times(rng, float(ticket_rate[c]) * boost, lo, hi)
        near = (churn.churn_day[c] - t) < config.churn.pre_churn_fade_days
        t = t[rng.random(len(t)) < np.where(near, 1.0, 1.0 / boost)]
        tickets.add(int(c), np.full(len(t), -1, dtype=np.int64), t)

    parts = [*_purchase_funnel(config, rng, buys, items, z, active_to),
             _browse_funnel(rng, browses),
             _tickets(rng, tickets)]
    return _assemble(config, parts, customers, items, span)


_Part = tuple[np.ndarray, np.ndarray, np.ndarray, str | np.ndarray, np.ndarray, np.ndarray]
# (customer idx, item idx or -1, day, type, value, channel idx)


def _purchase_funnel(config: DemoConfig, rng: np.random.Generator, buys: _Draws,
                     items: ItemDraw, z: np.ndarray, active_to: np.ndarray) -> list[_Part]:
    c, i, t = buys.arrays()
    n = len(t)
    channel = rng.choice(len(CHANNELS), size=n, p=[0.6, 0.15, 0.2, 0.05])
    nan = np.full(n, np.nan)
    qty = np.minimum(rng.geometric(0.6, size=n), 10).astype(float)
    out: list[_Part] = [
        (c, i, t - rng.uniform(20, 120, n) * _MINUTE, "view", nan, channel),
        (c, i, t - rng.uniform(10, 19, n) * _MINUTE, "click", nan, channel),
        (c, i, t - rng.uniform(1, 9, n) * _MINUTE, "add_to_cart", nan, channel),
        (c, i, t, "purchase", qty, channel),
    ]
    zi = z[c, i]
    # ratings follow the affinity; returns and negative feedback hit low-affinity purchases
    rate_t = t + rng.uniform(1, 14, n)
    keep = (rng.random(n) < config.rating_share) & (rate_t < active_to[c])
    stars = np.clip(np.round(3.4 + 0.9 * (zi - 1.5) + rng.normal(0, 0.6, n)), 1, 5)
    out.append((c[keep], i[keep], rate_t[keep], "rating", stars[keep], channel[keep]))
    ret_t = t + rng.uniform(2, 25, n)
    p_ret = 1.0 / (1.0 + np.exp(1.8 + 1.8 * (zi - 1.5)))
    keep = (rng.random(n) < p_ret) & (ret_t < active_to[c])
    out.append((c[keep], i[keep], ret_t[keep], "return", qty[keep], channel[keep]))
    fb_t = t + rng.uniform(1, 30, n)
    score = np.clip(np.round(0.9 * (zi - 1.3) + rng.normal(0, 0.6, n)), -2, 2) + 0.0  # no -0.0
    keep = (rng.random(n) < config.feedback_share) & (fb_t < active_to[c])
    out.append((c[keep], i[keep], fb_t[keep], "feedback", score[keep], channel[keep]))
    return out


def _browse_funnel(rng: np.random.Generator, browses: _Draws) -> _Part:
    c, i, t = browses.arrays()
    n = len(t)
    channel = rng.choice(len(CHANNELS), size=n, p=[0.8, 0.15, 0.05, 0.0])
    click = rng.random(n) < 0.45
    cart = click & (rng.random(n) < 0.3)
    t_click = t + rng.uniform(0.5, 5, n) * _MINUTE
    t_cart = t_click + rng.uniform(1, 10, n) * _MINUTE
    cc = np.concatenate([c, c[click], c[cart]])
    ii = np.concatenate([i, i[click], i[cart]])
    tt = np.concatenate([t, t_click[click], t_cart[cart]])
    n_click, n_cart = int(click.sum()), int(cart.sum())
    kinds = np.array(["view"] * n + ["click"] * n_click + ["add_to_cart"] * n_cart, dtype=object)
    ch = np.concatenate([channel, channel[click], channel[cart]])
    return cc, ii, tt, kinds, np.full(len(tt), np.nan), ch


def _tickets(rng: np.random.Generator, tickets: _Draws) -> _Part:
    c, i, t = tickets.arrays()
    channel = rng.choice([1, 3], size=len(t))  # email or phone
    topic = rng.integers(len(TICKET_TOPICS), size=len(t))
    return c, i, t, "service_ticket", topic.astype(float), channel  # value slot carries topic


def _assemble(config: DemoConfig, parts: list[_Part], customers: CustomerDraw, items: ItemDraw,
              span: float) -> pd.DataFrame:
    c = np.concatenate([p[0] for p in parts])
    i = np.concatenate([p[1] for p in parts])
    t = np.clip(np.concatenate([p[2] for p in parts]), 0.0, span - 1.0 / 86400)
    kind = np.concatenate([np.full(len(p[2]), p[3], dtype=object) if isinstance(p[3], str)
                           else p[3] for p in parts])
    raw_value = np.concatenate([p[4] for p in parts])
    channel = np.concatenate([p[5] for p in parts])
    is_ticket = kind == "service_ticket"
    value = np.where(is_ticket, np.nan, raw_value)
    topic = np.full(len(t), None, dtype=object)
    topic[is_ticket] = np.asarray(TICKET_TOPICS, dtype=object)[raw_value[is_ticket].astype(int)]

    seconds = np.floor(t * 86400).astype(np.int64)
    order = np.lexsort((i, c, seconds))
    c, i, seconds, kind, value, channel, topic = (
        a[order] for a in (c, i, seconds, kind, value, channel, topic))
    price = items.frame["price"].to_numpy(dtype=float)
    has_item = i >= 0
    amount = np.full(len(i), np.nan)
    money = has_item & np.isin(kind, ["purchase", "return"])
    amount[money] = np.round(value[money] * price[i[money]], 2)
    item_ids = items.frame["item_id"].to_numpy(dtype=object)
    item_col = np.full(len(i), None, dtype=object)
    item_col[has_item] = item_ids[i[has_item]]
    base = pd.Timestamp(dt.datetime.combine(config.start_date, dt.time()), tz="UTC")
    return pd.DataFrame({
        "idempotency_key": [f"demo-{config.seed}-{n:08d}" for n in range(len(c))],
        "customer_id": customers.frame["customer_id"].to_numpy(dtype=object)[c],
        "item_id": item_col,
        "type": kind,
        "value": value,
        "timestamp": (base + pd.to_timedelta(seconds, unit="s")).astype("datetime64[ns, UTC]"),
        "channel": np.asarray(CHANNELS, dtype=object)[channel],
        "amount": amount,
        "topic": topic,
    })
