"""Rule sets stored per tenant and versioned, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from tailorcrm.customize.rules import (
    BoostRule,
    FilterRule,
    RuleSet,
    load_ruleset,
    save_ruleset,
)
from tailorcrm.errors import NotFoundError, RuleError
from tailorcrm.store import Store


def test_ruleset_versions_and_tenant_isolation(database_url: str) -> None:
    with Store.open(database_url) as store:
        a, b = store.tenants.ensure("a"), store.tenants.ensure("b")
        v1 = RuleSet(filters=(FilterRule(name="stock", expression="item.available"),))
        v2 = RuleSet(filters=v1.filters, boosters=(BoostRule(
            name="pref", when="item.category in customer.preferred_categories", factor=2.0),))
        assert save_ruleset(store.configs, a, "default", v1) == 1
        assert save_ruleset(store.configs, a, "default", v1) == 1  # unchanged: same version
        assert save_ruleset(store.configs, a, "default", v2.model_dump()) == 2
        assert load_ruleset(store.configs, a, "default") == v2
        assert load_ruleset(store.configs, a, "default", version=1) == v1
        assert store.configs.versions(a, "rules", "default") == [1, 2]
        with pytest.raises(NotFoundError):
            load_ruleset(store.configs, b, "default")


def test_invalid_rules_are_never_stored(database_url: str) -> None:
    with Store.open(database_url) as store:
        tid = store.tenants.ensure("a")
        bad = {"filters": [{"name": "x", "expression": "item.price < "}]}
        with pytest.raises(RuleError) as info:
            save_ruleset(store.configs, tid, "default", bad)
        assert info.value.details["line"] == 1 and info.value.details["column"] == 13
        with pytest.raises(NotFoundError):
            load_ruleset(store.configs, tid, "default")
