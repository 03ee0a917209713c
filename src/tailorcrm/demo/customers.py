"""Demo customers: firmographic custom fields, preferred categories and planted latent tastes."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

from tailorcrm.demo.config import DemoConfig
from tailorcrm.demo.latent import LatentSpace
from tailorcrm.demo.vocabulary import (
    CATEGORY_WORDS,
    COMPLAINTS,
    CONTRACT_SHARES,
    CONTRACTS,
    FIRST_NAMES,
    INDUSTRIES,
    LAST_NAMES,
    LOYALTY_SHARES,
    LOYALTY_TIERS,
    NOTE_OPENERS,
    REGIONS,
    make_ids,
)

CUSTOMER_COLUMNS = ("customer_id", "consent_personalization", "consent_marketing", "industry",
                    "region", "loyalty_tier", "company_size", "budget", "contract",
                    "preferred_categories", "signup_date", "newsletter", "notes",
                    "contact_name", "contact_email")


@dataclass(frozen=True)
class CustomerDraw:
    """The customer frame and the hidden quantities events are drawn from.

    Attributes
    ----------
    frame:
        Columns ``CUSTOMER_COLUMNS``, one row per customer.
    factors:
        ``n_customers x n_latent_factors`` planted preference vectors.
    dissatisfaction:
        Hidden standard-normal trait: raises service tickets, complaints in notes and churn.
    purchase_rate:
        Expected purchases per day while active (before any pre-churn fade).
    signup_day:
        Days from ``start_date`` to the signup (negative = before the history starts).
    is_cold:
        Customers who signed up at the very end and have no events (cold start).
    """

    frame: pd.DataFrame
    factors: np.ndarray
    dissatisfaction: np.ndarray
    purchase_rate: np.ndarray
    signup_day: np.ndarray
    is_cold: np.ndarray


def _notes(rng: np.random.Generator, prefs: list[str], dissatisfaction: float) -> str:
    parts = [str(rng.choice(NOTE_OPENERS))]
    if rng.random() < 0.7:
        words = [w for c in prefs for w in CATEGORY_WORDS[c]]
        a, b = rng.choice(words, size=2, replace=False)
        parts.append(f"Interested in {a} and {b}.")
    if rng.random() < 1.0 / (1.0 + np.exp(-(1.5 * dissatisfaction - 1.0))):
        parts.append(str(rng.choice(COMPLAINTS)))
    return " ".join(parts)


def make_customers(config: DemoConfig, space: LatentSpace,
                   rng: np.random.Generator) -> CustomerDraw:
    """Draw customers, their fields and their planted tastes around the industry tastes."""
    n, k = config.n_customers, config.n_latent_factors
    industries = list(INDUSTRIES)
    ind_idx = rng.integers(len(industries), size=n)
    n_pref = rng.choice([1, 2, 3], size=n, p=[0.4, 0.4, 0.2])
    prefs_idx = [rng.choice(config.n_categories, size=int(n_pref[c]), replace=False,
                            p=space.industry_probs[ind_idx[c]]) for c in range(n)]

    fav_idx = np.array([space.categories.index(space.favourite[industries[i]])
                        for i in ind_idx])
    pref_mean = np.stack([space.centroids[p].mean(axis=0) for p in prefs_idx])
    factors = (config.preference_strength * pref_mean
               + config.industry_strength * space.centroids[fav_idx]
               + rng.standard_normal((n, k)) * (config.customer_noise / np.sqrt(k)))

    size = np.clip(np.round(np.exp(rng.normal(np.log(40.0), 1.2, size=n))), 1, 50_000)
    budget = np.round(300.0 * size ** 0.3 * np.exp(rng.normal(0.0, 0.45, size=n)), 2)
    loyalty = rng.choice(len(LOYALTY_TIERS), size=n, p=LOYALTY_SHARES)
    contract = rng.choice(len(CONTRACTS), size=n, p=CONTRACT_SHARES)
    region = rng.integers(len(REGIONS), size=n)
    dissatisfaction = rng.standard_normal(n)
    newsletter = rng.random(n) < 0.55

    span = (config.end_date - config.start_date).days + 1
    cutoff_day = span - config.horizon_days
    n_cold = round(config.cold_start_share * n)
    is_cold = np.zeros(n, dtype=bool)
    is_cold[rng.choice(n, size=n_cold, replace=False)] = True
    signup_day = np.where(rng.random(n) < 0.65, -rng.uniform(1, 1100, size=n),
                          rng.uniform(0, cutoff_day - 60, size=n))
    signup_day[is_cold] = rng.uniform(span - 30, span - 1, size=n_cold)

    monthly = np.maximum(config.min_purchases_per_month,
                         config.purchases_per_month * np.exp(rng.normal(0.0, 0.5, size=n)))
    purchase_rate = monthly / 30.44

    u = rng.random(n)
    consent_p = np.where(u < config.consent_denied_share, "denied",
                         np.where(u < config.consent_denied_share + 0.06, "unknown", "granted"))
    v = rng.random(n)
    consent_m = np.where(newsletter, np.where(v < 0.95, "granted", "unknown"),
                         np.where(v < 0.5, "denied", "unknown"))

    first = rng.integers(len(FIRST_NAMES), size=n)
    last = rng.integers(len(LAST_NAMES), size=n)
    ids = make_ids("cust", n)
    prefs = [[space.categories[j] for j in p] for p in prefs_idx]
    frame = pd.DataFrame({
        "customer_id": ids,
        "consent_personalization": consent_p.astype(object),
        "consent_marketing": consent_m.astype(object),
        "industry": [industries[i] for i in ind_idx],
        "region": [REGIONS[r] for r in region],
        "loyalty_tier": [LOYALTY_TIERS[t] for t in loyalty],
        "company_size": size.astype(np.int64),
        "budget": budget,
        "contract": [CONTRACTS[c] for c in contract],
        "preferred_categories": prefs,
        "signup_date": [(config.start_date + dt.timedelta(days=int(np.floor(d)))).isoformat()
                        for d in signup_day],
        "newsletter": newsletter,
        "notes": [_notes(rng, prefs[c], float(dissatisfaction[c])) for c in range(n)],
        "contact_name": [f"{FIRST_NAMES[a]} {LAST_NAMES[b]}" for a, b in zip(first, last,
                                                                            strict=True)],
        "contact_email": [f"{FIRST_NAMES[a].lower()}.{LAST_NAMES[b].lower()}@{cid}.example.com"
                          for a, b, cid in zip(first, last, ids, strict=True)],
    })
    return CustomerDraw(frame=frame, factors=factors, dissatisfaction=dissatisfaction,
                        purchase_rate=purchase_rate, signup_day=signup_day, is_cold=is_cold)
