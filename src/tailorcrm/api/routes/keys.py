"""API keys: revoke one of the tenant's keys (create and list them with ``tailorcrm keys``)."""

from __future__ import annotations

from fastapi import APIRouter, Path, Response

from tailorcrm.api.deps import Admin, KeyCacheDep, StoreDep
from tailorcrm.api.responses import AUTHENTICATED, error_responses

router = APIRouter(tags=["keys"], responses=error_responses(*AUTHENTICATED, 404))

KeyId = Path(min_length=1, max_length=32, description="The id inside the secret "
             "(`tcrm_<key_id>_...`), as `tailorcrm keys list` shows it.")


@router.delete("/v1/keys/{key_id}", status_code=204, responses=error_responses(404))
def revoke_key(principal: Admin, store: StoreDep, keys: KeyCacheDep,
               key_id: str = KeyId) -> Response:
    """Revoke one of the tenant's API keys (the calling key too, if named): requests with it
    answer 401 at once on the worker that answers this call and within `AUTH_TTL_S` (2 s) on
    every other worker. 404 for a key of another tenant, an unknown or a revoked one."""
    store.keys.revoke(key_id, tid=principal.tid)
    keys.evict(key_id)
    return Response(status_code=204)
