"""The demo tenant's customization: a strategy and a next-best-action catalog, as data."""

from __future__ import annotations

from tailorcrm.customize.actions import Action, ActionCatalog
from tailorcrm.customize.strategies import Strategy
from tailorcrm.customize.templates import template


def demo_strategies() -> list[Strategy]:
    """The strategies the demo stores (precomputed by the training job)."""
    return [template("homepage")]


def demo_actions(propensity_need: str, category: str) -> ActionCatalog:
    """Retention, service and cross-sell actions driven by the demo's need scores."""
    return ActionCatalog(
        description="Demo catalog: keep customers at risk, and sell where the need is.",
        actions=(
            Action(name="retention-offer", kind="offer", title="Two-year contract discount",
                   eligibility='has(needs.churn) && needs.churn > 0.5 && '
                               'customer.contract == "month-to-month"',
                   priority=10, value=120.0, channel="sales"),
            Action(name="service-check-in", kind="service", title="Account manager call",
                   eligibility="has(needs.churn) && needs.churn > 0.35",
                   priority=8, value=40.0, channel="service"),
            Action(name=f"{category}-campaign", kind="campaign",
                   title=f"{category.title()} bundle campaign",
                   eligibility=f"has(needs.{propensity_need}) && "
                               f"needs.{propensity_need} > 0.5",
                   priority=6, value=80.0, channel="marketing",
                   linked_categories=(category,), strategy="homepage"),
            Action(name="loyalty-upgrade", kind="offer", title="Upgrade to the next tier",
                   eligibility='customer.loyalty_tier == "bronze" && '
                               "(!has(needs.churn) || needs.churn < 0.2)",
                   priority=4, value=30.0, channel="marketing"),
        ))
