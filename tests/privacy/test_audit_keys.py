"""Audit entries for API key creation and revocation (API and CLI) and for admin saves of
strategies, rule sets, action catalogs and settings, on a real database and app."""

from __future__ import annotations

from pathlib import Path

import pytest
from api_helpers import Api, make_api
from typer.testing import CliRunner

from tailorcrm.api.deps import key_id_of
from tailorcrm.cli.main import app
from tailorcrm.privacy.admin_audit import CONFIG_SAVE, KEY_CREATE, KEY_REVOKE, SETTINGS_SAVE

runner = CliRunner()


@pytest.fixture()
def api(database_url: str, tmp_path: Path) -> Api:
    made = make_api(database_url, tmp_path / "artifacts")
    yield made  # type: ignore[misc]
    made.store.close()


def _env(api: Api) -> dict[str, str]:
    return {"TAILORCRM_DATABASE_URL": api.store.engine.url.render_as_string(
        hide_password=False), "TAILORCRM_TENANT": "acme"}


def test_key_creation_and_revocation_are_audited_cli_and_api(api: Api) -> None:
    created = runner.invoke(app, ["keys", "create", "--scope", "read", "--scope", "write",
                                  "--name", "crm sync"], env=_env(api))
    assert created.exit_code == 0, created.output
    secret = created.output.strip().splitlines()[-1]
    key_id = key_id_of(secret)
    assert key_id is not None
    [entry] = api.store.audit.list(api.tid, action=KEY_CREATE)
    assert (entry.actor, entry.target) == ("cli", key_id)
    assert entry.details == {"via": "cli", "scopes": ["read", "write"]}
    assert secret not in str(entry.model_dump())

    revoked = runner.invoke(app, ["keys", "revoke", key_id], env=_env(api))  # no --tenant
    assert revoked.exit_code == 0, revoked.output
    [cli_revoke] = api.store.audit.list(api.tid, action=KEY_REVOKE)
    assert (cli_revoke.actor, cli_revoke.target) == ("cli", key_id)

    other_id, _ = api.store.keys.create(api.tid, ["read"])
    gone = api.client.delete(f"/v1/keys/{other_id}", headers=api.h("admin"))
    assert gone.status_code == 204
    newest = api.store.audit.list(api.tid, action=KEY_REVOKE)[0]
    admin_id = key_id_of(api.keys["admin"])
    assert (newest.actor, newest.target, newest.details) == (f"key:{admin_id}", other_id,
                                                             {"via": "api"})
    # a failed revocation (unknown key) leaves no entry
    assert api.client.delete("/v1/keys/nosuchkey", headers=api.h("admin")).status_code == 404
    assert len(api.store.audit.list(api.tid, action=KEY_REVOKE)) == 2


def test_admin_config_and_settings_saves_are_audited(api: Api) -> None:
    h = api.h("admin")
    assert api.client.put("/v1/strategies/home", json={"models": [{"kind": "popularity"}]},
                          headers=h).status_code == 200
    assert api.client.put("/v1/rules/promo", json={"filters": [
        {"name": "f", "expression": "true"}]}, headers=h).status_code == 200
    assert api.client.put("/v1/actions/nba", json={"actions": [
        {"name": "a", "eligibility": "true"}]}, headers=h).status_code == 200
    assert api.client.put("/v1/rules/promo", json={"filters": [
        {"name": "f", "expression": "1 +"}]}, headers=h).status_code == 422  # not saved
    saves = api.store.audit.list(api.tid, action=CONFIG_SAVE)
    assert [(e.target, e.details["version"]) for e in saves] == [
        ("actions:nba", 1), ("rules:promo", 1), ("strategy:home", 1)]
    assert all(e.actor == f"key:{key_id_of(api.keys['admin'])}" for e in saves)
    assert api.client.put("/v1/settings", json={"retention_days": 90,
                                                "unknown_references": "reject"},
                          headers=h).status_code == 200
    [settings] = api.store.audit.list(api.tid, action=SETTINGS_SAVE)
    assert settings.details["changed"] == ["retention_days", "unknown_references"]
