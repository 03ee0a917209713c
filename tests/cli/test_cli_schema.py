"""``tailorcrm schema fields|event-types`` against a real SQLite file."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from tailorcrm.cli.main import app
from tailorcrm.errors import ConflictError
from tailorcrm.store import Store

runner = CliRunner()


@pytest.fixture()
def env(sqlite_url: str) -> dict[str, str]:
    with Store.open(sqlite_url) as store:
        store.tenants.ensure("acme")
    return {"TAILORCRM_DATABASE_URL": sqlite_url, "TAILORCRM_TENANT": "acme"}


def test_fields_add_list_remove(env: dict[str, str]) -> None:
    added = runner.invoke(app, ["schema", "fields", "add", "--entity", "customer", "--name",
                                "industry", "--type", "enum", "--values", "retail,bank",
                                "--feature", "--pii", "--required", "--default", "retail",
                                "--indexed", "--description", "Sector"], env=env)
    assert added.exit_code == 0, added.output
    listed = runner.invoke(app, ["schema", "fields", "list"], env=env)
    assert "industry" in listed.output and "retail,bank" in listed.output
    with Store.open(env["TAILORCRM_DATABASE_URL"]) as store:
        spec = store.fields.get(store.tenants.id_of("acme"), "customer", "industry")
    assert (spec.required, spec.pii, spec.feature, spec.indexed, spec.default) == (
        True, True, True, True, "retail")
    bad = runner.invoke(app, ["schema", "fields", "add", "--entity", "customer", "--name",
                              "x", "--type", "enum"], env=env)
    assert bad.exit_code == 3 and "enum_values" in bad.output
    removed = runner.invoke(app, ["schema", "fields", "remove", "--entity", "customer",
                                  "--name", "industry", "--purge"], env=env)
    assert removed.exit_code == 0 and "purged" in removed.output


def test_fields_change_shows_report_and_refuses(env: dict[str, str]) -> None:
    runner.invoke(app, ["schema", "fields", "add", "--entity", "customer", "--name", "tier",
                        "--type", "string"], env=env)
    with Store.open(env["TAILORCRM_DATABASE_URL"]) as store:
        tid = store.tenants.id_of("acme")
        store.customers.upsert(tid, [{"customer_id": "c1", "tier": "gold"},
                                     {"customer_id": "c2", "tier": "platinum"}])
    args = ["schema", "fields", "change", "--entity", "customer", "--name", "tier", "--type",
            "enum", "--values", "gold,silver"]
    refused = runner.invoke(app, args, env=env)
    assert refused.exit_code == ConflictError.exit_code
    assert "c2" in refused.output and "platinum" in refused.output and "--force" in refused.output
    dry = runner.invoke(app, [*args, "--dry-run"], env=env)
    assert dry.exit_code == 0 and "1 would break (not applied)" in dry.output
    forced = runner.invoke(app, [*args, "--force"], env=env)
    assert forced.exit_code == 0 and "(applied)" in forced.output
    with Store.open(env["TAILORCRM_DATABASE_URL"]) as store:
        assert store.fields.get(tid, "customer", "tier").enum_values == ("gold", "silver")


def test_event_types_add_and_list(env: dict[str, str]) -> None:
    added = runner.invoke(app, ["schema", "event-types", "add", "--name", "wishlist",
                                "--weight", "2.5", "--description", "Saved for later"], env=env)
    assert added.exit_code == 0, added.output
    dup = runner.invoke(app, ["schema", "event-types", "add", "--name", "wishlist"], env=env)
    assert dup.exit_code == ConflictError.exit_code
    listed = runner.invoke(app, ["schema", "event-types", "list"], env=env)
    assert "wishlist" in listed.output and "2.5" in listed.output
    assert "service_ticket" in listed.output
