"""The planted churn need: a hazard driven by known fields, a churn day, and the pre-churn fade."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tailorcrm.demo.config import DemoConfig
from tailorcrm.demo.customers import CustomerDraw

DAYS_PER_MONTH = 30.44

# Field-level names of the planted drivers and the sign each has on churn. "Behavioural"
# drivers are what the hidden dissatisfaction and the pre-churn fade leave in the events.
DRIVER_SIGNS: dict[str, int] = {
    "contract=month-to-month": +1,
    "contract=two-year": -1,
    "loyalty_tier=gold": -1,
    "budget": -1,
    "service_tickets": +1,  # count of service tickets before the cut-off
    "recency_days": +1,  # days since the last purchase at the cut-off
}
NULL_FIELDS: tuple[str, ...] = ("region", "newsletter")  # no effect on churn by construction


@dataclass(frozen=True)
class ChurnDraw:
    """Per-customer churn quantities.

    Attributes
    ----------
    logit:
        Logit of the monthly churn hazard.
    monthly_hazard:
        ``sigmoid(logit)``: the chance to churn within a month while active.
    churn_day:
        Days from ``start_date`` to the churn; ``inf`` when the customer does not churn
        within the history (and for cold-start customers).
    """

    logit: np.ndarray
    monthly_hazard: np.ndarray
    churn_day: np.ndarray

    def horizon_probability(self, days: float) -> np.ndarray:
        """Chance that an active customer churns within ``days``."""
        daily = -np.log1p(-self.monthly_hazard) / DAYS_PER_MONTH
        return -np.expm1(-daily * days)


def plant_churn(config: DemoConfig, customers: CustomerDraw,
                rng: np.random.Generator) -> ChurnDraw:
    """Churn hazard from the known fields, then a churn day drawn from a constant hazard."""
    d = config.churn
    frame = customers.frame
    log_budget = np.log(frame["budget"].to_numpy(dtype=float))
    budget_z = (log_budget - log_budget.mean()) / max(float(log_budget.std()), 1e-9)
    logit = (d.intercept
             + d.contract_month_to_month * (frame["contract"] == "month-to-month").to_numpy()
             + d.contract_two_year * (frame["contract"] == "two-year").to_numpy()
             + d.loyalty_gold * (frame["loyalty_tier"] == "gold").to_numpy()
             + d.dissatisfaction * customers.dissatisfaction
             + d.log_budget_z * budget_z)
    hazard = 1.0 / (1.0 + np.exp(-logit))
    daily = -np.log1p(-hazard) / DAYS_PER_MONTH
    span = (config.end_date - config.start_date).days + 1
    exposure_start = np.maximum(customers.signup_day, 0.0)
    churn_day = exposure_start + rng.exponential(1.0 / daily)
    churn_day[(churn_day >= span) | customers.is_cold] = np.inf
    return ChurnDraw(logit=logit, monthly_hazard=hazard, churn_day=churn_day)


def activity_fade(config: DemoConfig, t: np.ndarray, churn_day: np.ndarray) -> np.ndarray:
    """Multiplier of activity at day ``t``: 1 until the fade window, then down to the floor."""
    d = config.churn
    left = (churn_day - t) / d.pre_churn_fade_days
    return np.clip(left, d.pre_churn_fade_floor, 1.0)
