"""Key revocation: through a worker it fails there at once; elsewhere (another worker over the
same database, the CLI's store) it fails within the key cache's TTL. Both backends."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from api_helpers import Api, make_api

from tailorcrm.api.deps import AUTH_TTL_S, KeyCache, Principal, key_id_of
from tailorcrm.store import Store

SHORT_TTL = 0.3


@pytest.fixture()
def workers(database_url: str, tmp_path: Path) -> Iterator[tuple[Api, Api]]:
    """Two apps over one database and tenant; the second trusts verified keys briefly."""
    one = make_api(database_url, tmp_path / "artifacts")
    two = make_api(database_url, tmp_path / "artifacts")
    app: Any = two.client.app
    app.state.key_cache = KeyCache(ttl=SHORT_TTL)
    yield one, two
    one.store.close()
    two.store.close()


def _status(api: Api, secret: str) -> int:
    r = api.client.get("/v1/segments", headers={"Authorization": f"Bearer {secret}"})
    return int(r.status_code)


def _revoke(api: Api, key_id: str, scope: str = "admin") -> Any:
    return api.client.delete(f"/v1/keys/{key_id}", headers=api.h(scope))


def test_revoked_through_a_worker_fails_there_at_once_and_elsewhere_within_the_ttl(
        workers: tuple[Api, Api]) -> None:
    one, two = workers
    key_id, secret = one.store.keys.create(one.tid, ["read"], "to revoke")
    assert _status(one, secret) == 200 and _status(two, secret) == 200  # cached in both
    r = _revoke(one, key_id)
    assert r.status_code == 204, r.text
    assert _status(one, secret) == 401  # this worker: at once, its cache entry is gone
    time.sleep(SHORT_TTL)
    assert _status(two, secret) == 401  # the other worker: once the TTL has passed
    assert _status(one, one.keys["read"]) == 200  # other keys are unaffected
    assert _revoke(one, key_id).status_code == 404  # revoked already
    assert _revoke(two, "0123456789abcdef").status_code == 404


def test_revoked_outside_the_api_fails_within_the_ttl(workers: tuple[Api, Api],
                                                      database_url: str) -> None:
    _, two = workers
    key_id, secret = two.store.keys.create(two.tid, ["read"])
    assert _status(two, secret) == 200
    with Store.open(database_url) as cli_store:  # what `tailorcrm keys revoke` does
        cli_store.keys.revoke(key_id)
    time.sleep(SHORT_TTL)
    assert _status(two, secret) == 401


def test_a_key_revoking_itself_and_scopes(workers: tuple[Api, Api]) -> None:
    one, _ = workers
    assert _revoke(one, key_id_of(one.keys["admin"]) or "", "write").status_code == 403
    assert _revoke(one, key_id_of(one.keys["admin"]) or "", "read").status_code == 403
    own = key_id_of(one.keys["admin"])
    assert own is not None
    assert _revoke(one, own).status_code == 204
    assert _revoke(one, own).status_code == 401  # its own next request


def test_another_tenants_key_cannot_be_revoked(workers: tuple[Api, Api]) -> None:
    one, _ = workers
    other = one.store.tenants.ensure("bravo")
    key_id, secret = one.store.keys.create(other, ["read"])
    r = _revoke(one, key_id)
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    assert _status(one, secret) == 200
    assert [k.active for k in one.store.keys.list(other)] == [True]


def test_a_verification_racing_a_revocation_is_not_cached() -> None:
    cache = KeyCache(ttl=60.0)
    secret = "tcrm_00aa11bb22cc33dd_token"
    principal = Principal(tenant="acme", tid=1, scopes=("read",))
    digest, found = cache.get(secret)
    assert found is None
    cache.put(digest, principal, key_id_of(secret))
    assert cache.get(secret)[1] == principal
    cache.evict("00aa11bb22cc33dd")
    assert cache.get(secret)[1] is None
    cache.put(digest, principal, key_id_of(secret))  # verified just before the revocation
    assert cache.get(secret)[1] is None
    assert AUTH_TTL_S == 2.0  # the bound docs/api.md states
