"""``tailorcrm db``, ``tenants`` and ``keys`` against a real SQLite file."""

from __future__ import annotations

from typer.testing import CliRunner

from tailorcrm.cli.main import app
from tailorcrm.errors import AuthenticationError, ConflictError, NotFoundError
from tailorcrm.store import Store

runner = CliRunner()


def test_db_upgrade_twice(sqlite_url: str) -> None:
    first = runner.invoke(app, ["db", "upgrade", "--db", sqlite_url])
    assert first.exit_code == 0, first.output
    assert "migrated from empty" in first.output
    again = runner.invoke(app, ["db", "upgrade", "--db", sqlite_url])
    assert again.exit_code == 0 and "already at revision" in again.output


def test_tenants_create_and_list(sqlite_url: str) -> None:
    env = {"TAILORCRM_DATABASE_URL": sqlite_url}
    made = runner.invoke(app, ["tenants", "create", "acme", "--name", "Acme"], env=env)
    assert made.exit_code == 0, made.output
    dup = runner.invoke(app, ["tenants", "create", "acme"], env=env)
    assert dup.exit_code == ConflictError.exit_code and "exists already" in dup.output
    bad = runner.invoke(app, ["tenants", "create", "Not Valid"], env=env)
    assert bad.exit_code == 3
    listed = runner.invoke(app, ["tenants", "list"], env=env)
    assert "acme" in listed.output and "Acme" in listed.output


def test_keys_create_verify_revoke(sqlite_url: str) -> None:
    env = {"TAILORCRM_DATABASE_URL": sqlite_url, "TAILORCRM_TENANT": "acme"}
    missing = runner.invoke(app, ["keys", "create", "--scope", "read"], env=env)
    assert missing.exit_code == NotFoundError.exit_code  # no such tenant yet
    runner.invoke(app, ["tenants", "create", "acme"], env=env)
    made = runner.invoke(app, ["keys", "create", "--scope", "read", "--scope", "admin",
                               "--name", "crm"], env=env)
    assert made.exit_code == 0, made.output
    secret = made.output.strip().splitlines()[-1]
    key_id = secret.split("_")[1]
    with Store.open(sqlite_url) as store:
        assert store.keys.verify(secret) == ("acme", ("read", "admin"))
    listed = runner.invoke(app, ["keys", "list"], env=env)
    assert key_id in listed.output and secret not in listed.output
    runner.invoke(app, ["tenants", "create", "other"], env=env)
    foreign = runner.invoke(app, ["keys", "revoke", key_id, "--tenant", "other"], env=env)
    assert foreign.exit_code == NotFoundError.exit_code  # not other's key
    assert runner.invoke(app, ["keys", "revoke", key_id], env=env).exit_code == 0
    with Store.open(sqlite_url) as store:
        try:
            store.keys.verify(secret)
            raise AssertionError("revoked key verified")
        except AuthenticationError:
            pass
    again = runner.invoke(app, ["keys", "revoke", key_id], env=env)
    assert again.exit_code == NotFoundError.exit_code and "error" in again.output
    bad = runner.invoke(app, ["keys", "create", "--scope", "root"], env=env)
    assert bad.exit_code == 3
