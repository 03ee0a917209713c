"""API keys: revoke one of the tenant's keys (create and list them with ``tailorcrm keys``).

Each revocation appends ``key.revoke`` to the tenant's audit log (the key id, never a secret).
"""

from __future__ import annotations

from fastapi import APIRouter, Path, Response

from tailorcrm.api.deps import Admin, KeyCacheDep, StoreDep
from tailorcrm.api.responses import AUTHENTICATED, error_responses
from tailorcrm.api.routes.privacy import Actor
from tailorcrm.privacy.admin_audit import KEY_REVOKE, audit_key

router = APIRouter(tags=["keys"], responses=error_responses(*AUTHENTICATED, 404))

KeyId = Path(min_length=1, max_length=32, description="The id inside the secret "
             "(`tcrm_<key_id>_...`), as `tailorcrm keys list` shows it.")


@router.delete("/v1/keys/{key_id}", status_code=204, responses=error_responses(404))
def revoke_key(principal: Admin, actor: Actor, store: StoreDep, keys: KeyCacheDep,
               key_id: str = KeyId) -> Response:
    """Revoke one of the tenant's API keys (the calling key too, if named): requests with it
    answer 401 at once on the worker that answers this call and within `AUTH_TTL_S` (2 s) on
    every other worker. 404 for a key of another tenant, an unknown or a revoked one."""
    store.keys.revoke(key_id, tid=principal.tid)
    keys.evict(key_id)
    audit_key(store, principal.tid, actor, KEY_REVOKE, key_id, via="api")
    return Response(status_code=204)
