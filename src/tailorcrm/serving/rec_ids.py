"""Signed recommendation ids: what feedback is attributed to, verifiable without server state."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
import secrets
from dataclasses import dataclass

from tailorcrm.errors import NotFoundError
from tailorcrm.store import Store

REC_ID_PURPOSE = "recommendation-id/v1"  # key derivation label (store/tenants.py)
TAG_BYTES = 16  # HMAC-SHA256 truncated to 128 bits
_B64URL = re.compile(r"[A-Za-z0-9_-]+")


@dataclass(frozen=True)
class RecommendationRef:
    """What a verified recommendation id says: who got the list, from which strategy and model."""

    customer_id: str
    strategy: str
    model_version: str
    experiment: str | None = None  # the experiment and variant the list was served under
    variant: str | None = None


def recommendation_key(store: Store, tid: int) -> bytes:
    """The tenant's key for signing recommendation ids (cached in the process)."""
    return store.tenants.key(tid, REC_ID_PURPOSE)


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    """Decode unpadded URL-safe base64, refusing any other spelling of the same bytes."""
    if not _B64URL.fullmatch(text):
        raise ValueError("not URL-safe base64")
    raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    if _b64(raw) != text:  # non-zero padding bits: one id, one spelling
        raise ValueError("not canonical base64")
    return raw


def _tag(key: bytes, body: bytes) -> bytes:
    return hmac.new(key, body, hashlib.sha256).digest()[:TAG_BYTES]


def make_recommendation_id(key: bytes, customer_id: str, strategy: str,
                           model_version: str, *,
                           arm: tuple[str, str] | None = None) -> str:
    """A compact id carrying what feedback is attributed to, signed with the tenant's ``key``.

    ``<base64url(JSON body)>.<base64url(HMAC-SHA256(key, body)[:16])>``: no server state, and
    only the tenant that issued an id can have feedback recorded against it. ``arm`` is the
    ``(experiment, variant)`` the list was served under (key ``x``; ids without it, and ids
    issued before experiments existed, parse with both None).
    """
    doc: dict[str, object] = {"c": customer_id, "s": strategy, "v": model_version,
                              "r": secrets.token_hex(4)}
    if arm is not None:
        doc["x"] = [arm[0], arm[1]]
    body = json.dumps(doc, separators=(",", ":")).encode()
    return f"{_b64(body)}.{_b64(_tag(key, body))}"


def parse_recommendation_id(key: bytes, recommendation_id: str) -> RecommendationRef:
    """The reference inside an id signed with ``key``.

    Raises
    ------
    NotFoundError
        For anything this tenant did not issue: malformed, truncated, tampered, forged or
        signed by another tenant (checked in constant time, before the body is read).
    """
    try:
        payload, dot, tag = recommendation_id.partition(".")
        if not dot:
            raise ValueError("no signature")
        body, given = _unb64(payload), _unb64(tag)
        if not hmac.compare_digest(given, _tag(key, body)):
            raise ValueError("bad signature")
        ref = json.loads(body)
        if not isinstance(ref, dict) or not all(isinstance(ref.get(k), str) for k in "csv"):
            raise ValueError("missing keys")
        arm = ref.get("x")
        if arm is not None and not (isinstance(arm, list) and len(arm) == 2
                                    and all(isinstance(a, str) for a in arm)):
            raise ValueError("bad experiment arm")
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise NotFoundError("no such recommendation") from exc
    return RecommendationRef(customer_id=ref["c"], strategy=ref["s"], model_version=ref["v"],
                             experiment=arm[0] if arm else None,
                             variant=arm[1] if arm else None)


def verified_recommendation(store: Store, tid: int, recommendation_id: str) -> RecommendationRef:
    """The reference of a recommendation id the tenant issued to a customer it still holds;
    NotFoundError otherwise (forged ids and erased customers alike)."""
    ref = parse_recommendation_id(recommendation_key(store, tid), recommendation_id)
    if not store.holds_customer(tid, ref.customer_id):
        raise NotFoundError("no such recommendation")
    return ref
