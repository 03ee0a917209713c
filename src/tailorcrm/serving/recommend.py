"""Serving one customer's list: precomputed when fresh, else online with fold-in; similar items."""

from __future__ import annotations

import base64
import binascii
import json
import logging
import secrets
from dataclasses import dataclass
from typing import Any

from tailorcrm.customize.precompute import strategy_hash
from tailorcrm.customize.strategies import load_strategy, resolve_rules
from tailorcrm.errors import NotFittedError, NotFoundError, ValidationError
from tailorcrm.serving.cache import ModelCache, TenantModel
from tailorcrm.store import Store

log = logging.getLogger(__name__)

DEFAULT_STRATEGY = "default"


@dataclass(frozen=True)
class ServedList:
    """What the recommendation endpoint answers, and where it came from."""

    recommendation_id: str
    model_version: str
    source: str  # "precomputed" or "online"
    items: list[dict[str, Any]]


def make_recommendation_id(customer_id: str, strategy: str, model_version: str) -> str:
    """An opaque id that carries what feedback needs to be attributed (no server state)."""
    body = json.dumps({"c": customer_id, "s": strategy, "v": model_version,
                       "r": secrets.token_hex(4)}, separators=(",", ":"))
    return base64.urlsafe_b64encode(body.encode()).decode().rstrip("=")


def parse_recommendation_id(recommendation_id: str) -> dict[str, str]:
    """``{"c": customer_id, "s": strategy, "v": model_version}``; ValidationError if malformed."""
    try:
        padded = recommendation_id + "=" * (-len(recommendation_id) % 4)
        body = json.loads(base64.urlsafe_b64decode(padded.encode()))
        if not isinstance(body, dict) or not all(isinstance(body.get(k), str) for k in "csv"):
            raise ValueError("missing keys")
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise ValidationError("malformed recommendation id",
                              recommendation_id=recommendation_id[:100]) from exc
    return {k: body[k] for k in "csv"}


def _require_customer(store: Store, tid: int, entry: TenantModel | None,
                      customer_id: str) -> None:
    known = entry is not None and entry.data.customer_vocab.index_of(customer_id) >= 0
    if not known and store.customers.find(tid, customer_id) is None:
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
    rec_id = make_recommendation_id(customer_id, strategy, entry.version)
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
    rec_id = make_recommendation_id(customer_id, name, stored.model_version)
    return ServedList(rec_id, stored.model_version, "precomputed", list(stored.items[:n]))


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
