"""The demo generator's configuration: sizes, time span, and the planted effects, as data."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field, model_validator

from tailorcrm.demo.vocabulary import CATEGORY_WORDS, INDUSTRIES


class ChurnDrivers(BaseModel):
    """Coefficients of the planted churn model, on the logit of the monthly churn hazard.

    The monthly hazard of customer ``c`` is ``sigmoid(intercept + sum(coef * x_c))``; the signs
    are what need-prediction tests expect a model to recover.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    intercept: float = -3.3
    contract_month_to_month: float = 1.1
    contract_two_year: float = -0.9
    loyalty_gold: float = -1.0
    dissatisfaction: float = 0.9  # hidden; shows in service tickets and in notes
    log_budget_z: float = -0.5  # standardized log budget
    pre_churn_fade_days: float = Field(default=60.0, gt=0)  # activity fades before churn
    pre_churn_fade_floor: float = Field(default=0.15, ge=0, le=1)
    pre_churn_ticket_boost: float = Field(default=2.0, ge=1)


class DemoConfig(BaseModel):
    """Everything the demo generator needs; the same config and seed give the same data.

    Attributes
    ----------
    seed:
        Seed of the NumPy ``Generator`` every random draw comes from.
    n_customers, n_items:
        Sizes, cold-start customers and new items included.
    n_categories:
        Item categories, from a fixed vocabulary of 12 (``vocabulary.CATEGORY_WORDS``).
    n_latent_factors:
        Dimension of the planted customer and item preference vectors.
    start_date, end_date:
        First and last day of the event history (UTC).
    horizon_days:
        Horizon of the derived needs (churn, category purchase) after the reference cut-off,
        which is ``end_date - horizon_days``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    seed: int = 42
    n_customers: int = Field(default=2000, ge=20, le=1_000_000)
    n_items: int = Field(default=300, ge=20, le=100_000)
    n_categories: int = Field(default=8, ge=2, le=len(CATEGORY_WORDS))
    n_latent_factors: int = Field(default=8, ge=2, le=64)
    start_date: dt.date = dt.date(2024, 7, 1)
    end_date: dt.date = dt.date(2025, 6, 30)
    horizon_days: int = Field(default=90, ge=7)

    # shares of special rows
    cold_start_share: float = Field(default=0.04, ge=0, le=0.5)  # customers without events
    new_item_share: float = Field(default=0.05, ge=0, le=0.5)  # items without events
    unavailable_share: float = Field(default=0.04, ge=0, le=0.5)
    consent_denied_share: float = Field(default=0.04, ge=0, le=0.5)

    # planted preferences
    preference_strength: float = Field(default=1.6, ge=0)  # weight of preferred categories
    industry_strength: float = Field(default=0.8, ge=0)  # weight of the industry's category
    customer_noise: float = Field(default=0.5, ge=0)
    item_noise: float = Field(default=0.45, ge=0)
    item_bias_sd: float = Field(default=0.3, ge=0)  # popularity, kept small on purpose
    purchase_temperature: float = Field(default=0.6, gt=0)
    purchase_top_k: int = Field(default=40, ge=1)
    browse_temperature: float = Field(default=1.2, gt=0)
    relevant_k: int = Field(default=10, ge=1)  # size of each customer's relevant-item set

    # activity
    purchases_per_month: float = Field(default=1.6, gt=0)  # median over customers
    min_purchases_per_month: float = Field(default=0.9, gt=0)
    browse_per_purchase: float = Field(default=2.0, ge=0)
    tickets_per_month: float = Field(default=0.12, ge=0)  # at average dissatisfaction
    rating_share: float = Field(default=0.35, ge=0, le=1)  # purchases that get a rating
    feedback_share: float = Field(default=0.05, ge=0, le=1)

    # planted needs
    churn: ChurnDrivers = ChurnDrivers()
    propensity_industry: str = "finance"  # this industry over-buys its favourite category

    @model_validator(mode="after")
    def _check(self) -> DemoConfig:
        if self.end_date <= self.start_date + dt.timedelta(days=self.horizon_days + 60):
            raise ValueError("end_date must lie at least horizon_days + 60 days after start_date")
        if self.propensity_industry not in INDUSTRIES:
            raise ValueError(f"propensity_industry must be one of {list(INDUSTRIES)}")
        return self

    @property
    def cutoff_date(self) -> dt.date:
        """The reference cut-off of the derived needs: ``end_date - horizon_days``."""
        return self.end_date - dt.timedelta(days=self.horizon_days)

    @property
    def categories(self) -> tuple[str, ...]:
        """The category names in use."""
        return tuple(CATEGORY_WORDS)[: self.n_categories]
