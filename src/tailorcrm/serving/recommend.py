"""Serving one customer's list: precomputed when fresh, else online with fold-in; similar items."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import logging
import re
import secrets
from dataclasses import dataclass
from typing import Any

from tailorcrm.customize.precompute import strategy_hash
from tailorcrm.customize.strategies import Strategy, load_strategy, resolve_rules
from tailorcrm.errors import NotFittedError, NotFoundError
from tailorcrm.serving.cache import ModelCache, TenantModel
from tailorcrm.store import Store

log = logging.getLogger(__name__)

DEFAULT_STRATEGY = "default"
REC_ID_PURPOSE = "recommendation-id/v1"  # key derivation label (store/tenants.py)
TAG_BYTES = 16  # HMAC-SHA256 truncated to 128 bits
_B64URL = re.compile(r"[A-Za-z0-9_-]+")


@dataclass(frozen=True)
class ServedList:
    """What the recommendation endpoint answers, and where it came from."""

    recommendation_id: str
    model_version: str
    source: str  # "precomputed" or "online"
    items: list[dict[str, Any]]


@dataclass(frozen=True)
class RecommendationRef:
    """What a verified recommendation id says: who got the list, from which strategy and model."""

    customer_id: str
    strategy: str
    model_version: str


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
                           model_version: str) -> str:
    """A compact id carrying what feedback is attributed to, signed with the tenant's ``key``.

    ``<base64url(JSON body)>.<base64url(HMAC-SHA256(key, body)[:16])>``: no server state, and
    only the tenant that issued an id can have feedback recorded against it.
    """
    body = json.dumps({"c": customer_id, "s": strategy, "v": model_version,
                       "r": secrets.token_hex(4)}, separators=(",", ":")).encode()
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
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise NotFoundError("no such recommendation") from exc
    return RecommendationRef(customer_id=ref["c"], strategy=ref["s"], model_version=ref["v"])


def verified_recommendation(store: Store, tid: int, recommendation_id: str) -> RecommendationRef:
    """The reference of a recommendation id the tenant issued to a customer it still holds;
    NotFoundError otherwise (forged ids and erased customers alike)."""
    ref = parse_recommendation_id(recommendation_key(store, tid), recommendation_id)
    if not store.holds_customer(tid, ref.customer_id):
        raise NotFoundError("no such recommendation")
    return ref


def _require_customer(store: Store, tid: int, entry: TenantModel | None,
                      customer_id: str) -> None:
    # the model's vocabulary alone is not enough: it keeps customers erased since training
    known = entry is not None and entry.data.customer_vocab.index_of(customer_id) >= 0
    if not store.holds_customer(tid, customer_id, events=known):
        raise NotFoundError(f"no customer {customer_id!r}", customer_id=customer_id)


def recommend(store: Store, cache: ModelCache, tid: int, customer_id: str, *, n: int = 10,
              strategy: str = DEFAULT_STRATEGY, reasons: bool = True) -> ServedList:
    """A customer's top ``n`` with reasons.

    The default strategy serves the precomputed list when it was made by the active model
    version and ranking config and the customer has no events newer than the model's data;
    otherwise it scores online, folding in those newer events. Named strategies serve their
    precomputed lists, which must match the strategy's current config hash. Without
    ``reasons`` the items carry none (online scoring is then several times cheaper).
    """
    served = _recommend(store, cache, tid, customer_id, n, strategy, reasons)
    if not reasons:
        items = [{**i, "reasons": []} for i in served.items]
        return ServedList(served.recommendation_id, served.model_version, served.source, items)
    return served


def _recommend(store: Store, cache: ModelCache, tid: int, customer_id: str, n: int,
               strategy: str, reasons: bool) -> ServedList:
    if strategy != DEFAULT_STRATEGY:
        return _stored_strategy(store, tid, customer_id, n, strategy)
    entry = cache.get(tid)
    if entry is None:
        _require_customer(store, tid, entry, customer_id)
        raise NotFittedError("no trained recommender yet: POST /v1/jobs/train first")
    live = entry.fold_in(store, tid, customer_id)
    stored = None if live else store.recommendations.get(tid, DEFAULT_STRATEGY, customer_id)
    rec_id = make_recommendation_id(recommendation_key(store, tid), customer_id, strategy,
                                    entry.version)
    if (stored is not None and not stored.is_stale(entry.version, entry.config_hash)
            and len(stored.items) >= n):
        return ServedList(rec_id, entry.version, "precomputed", list(stored.items[:n]))
    if stored is None:  # a list exists only for known customers
        _require_customer(store, tid, entry, customer_id)
    ranker = entry.ranker if reasons else entry.lean_ranker()
    items = [r.to_dict() for r in ranker.recommend(customer_id, n)]
    return ServedList(rec_id, entry.version, "online", items)


def _stored_strategy(store: Store, tid: int, customer_id: str, n: int,
                     name: str) -> ServedList:
    strategy = load_strategy(store.configs, tid, name)  # NotFoundError if absent
    if store.customers.find(tid, customer_id) is None:
        raise NotFoundError(f"no customer {customer_id!r}", customer_id=customer_id)
    stored = store.recommendations.get(tid, name, customer_id)
    chash = strategy_hash(strategy, resolve_rules(strategy, store.configs, tid))
    if stored is None or stored.config_hash != chash:
        raise NotFittedError(f"strategy {name!r} has no fresh list for this customer: "
                             f"run 'tailorcrm strategies precompute {name}'", strategy=name)
    rec_id = make_recommendation_id(recommendation_key(store, tid), customer_id, name,
                                    stored.model_version)
    items = _without_live_exclusions(store, tid, customer_id, stored.items, strategy)
    return ServedList(rec_id, stored.model_version, "precomputed", items[:n])


def _categories(store: Store, tid: int, item_id: str) -> list[str]:
    found = store.items.find(tid, item_id)
    return list(found.categories) if found is not None else []


LIVE_EXCLUSION_LOOKBACK = 200  # newest events checked against a precomputed strategy list


def _without_live_exclusions(store: Store, tid: int, customer_id: str,
                             items: list[dict[str, Any]], strategy: Strategy,
                             ) -> list[dict[str, Any]]:
    """A precomputed list without the items the strategy's exclusions now rule out.

    The list was made from the data of its training run; an item the customer bought or
    rejected since then (an event stored at any time after) must not be served at the top of
    it. The customer's newest events of the excluded types are checked at each request
    (one indexed query); bought items of repurchasable categories stay.
    """
    rules = strategy.exclusions
    types = (rules.bought_types if rules.bought else ()) + \
        (rules.rejected_types if rules.rejected else ())
    if not types or not items:
        return list(items)
    recent = store.events.for_customer(tid, customer_id, limit=LIVE_EXCLUSION_LOOKBACK,
                                       types=types)
    rejected = {e.item_id for e in recent if e.type in rules.rejected_types and rules.rejected}
    bought = {e.item_id for e in recent if e.type in rules.bought_types and rules.bought}
    if bought and rules.repurchasable_categories:
        keep = set(rules.repurchasable_categories)
        bought = {i for i in bought if i is not None and not keep & set(_categories(store, tid, i))}
    gone = (rejected | bought) - {None}
    return [i for i in items if i.get("item_id") not in gone]


def similar_items(store: Store, cache: ModelCache, tid: int, item_id: str,
                  n: int = 10) -> tuple[str, list[tuple[str, float]]]:
    """``(model_version, [(item_id, similarity)])``; NotFoundError for an unknown item."""
    entry = cache.get(tid)
    if store.items.find(tid, item_id) is None and (
            entry is None or entry.data.item_vocab.index_of(item_id) < 0):
        raise NotFoundError(f"no item {item_id!r}", item_id=item_id)
    if entry is None:
        raise NotFittedError("no trained recommender yet: POST /v1/jobs/train first")
    return entry.version, entry.similar(item_id, n)
