"""Starting points for the usual strategies: homepage, cross-sell and service follow-up.

Each is an ordinary :class:`~tailorcrm.customize.strategies.Strategy`; a tenant copies one
(``tailorcrm strategies template NAME > homepage.toml``), edits it and stores it.
"""

from __future__ import annotations

from tailorcrm.customize.rules import BoostRule, FilterRule, RuleSet
from tailorcrm.customize.strategies import Diversity, Strategy
from tailorcrm.errors import NotFoundError
from tailorcrm.recommend.spec import ModelSpec


def _homepage() -> Strategy:
    from tailorcrm.recommend.default import DEFAULT_HYBRID

    return Strategy(
        name="homepage",
        description="The tuned default blend, at most 3 items per category.",
        models=tuple(ModelSpec(kind=c.kind, weight=c.weight, config=c.config)
                     for c in DEFAULT_HYBRID.components),
        normalize=DEFAULT_HYBRID.normalize,
        fallback=(ModelSpec(kind="popularity"),),
        diversity=Diversity(max_per_group=3),
        count=10)


def _cross_sell() -> Strategy:
    return Strategy(
        name="cross-sell",
        description="Items bought together with the basket, from other categories.",
        models=(ModelSpec(kind="itemknn", config={"similarity": "bm25", "k": 100}),),
        fallback=(ModelSpec(kind="popularity"),),
        rules=RuleSet(filters=(FilterRule(
            name="other-categories",
            expression="!has(context.basket_categories) || "
                       "!(item.category in context.basket_categories)",
            description="Complement the basket rather than repeat it."),)),
        diversity=Diversity(max_per_group=2),
        count=5)


def _service_follow_up() -> Strategy:
    return Strategy(
        name="service-follow-up",
        description="After a service contact: items matching the customer's profile, "
                    "lifted by their upgrade need.",
        models=(ModelSpec(kind="content", weight=1.0), ModelSpec(kind="popularity", weight=0.2)),
        fallback=(ModelSpec(kind="popularity"),),
        rules=RuleSet(boosters=(BoostRule(
            name="upgrade-need", factor="has(needs.upgrade) ? 1.0 + needs.upgrade : 1.0",
            description="Scale by the predicted upgrade need (0..1)."),)),
        diversity=Diversity(max_per_group=1),
        count=3)


TEMPLATES = {"homepage": _homepage, "cross-sell": _cross_sell,
             "service-follow-up": _service_follow_up}


def template(name: str) -> Strategy:
    """A fresh copy of one template (NotFoundError naming the known ones)."""
    if name not in TEMPLATES:
        raise NotFoundError(f"no strategy template {name!r}", known=sorted(TEMPLATES))
    return TEMPLATES[name]()
