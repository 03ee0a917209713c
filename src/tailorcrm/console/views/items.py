"""The items pages: search, each item's fields, similar items from the served model, and how
often each item is recommended.

How often an item is recommended is its share of the precomputed lists of each strategy. The
counts read every list of the tenant (bounded by ``console_reads.MAX_LISTS``), so they are kept
in memory per store and tenant, keyed by the lists' stamp (number of lists and newest row id per
strategy: any precompute moves it); a page view after the first reads one small aggregate.
"""

from __future__ import annotations

import threading
import weakref
from collections import Counter
from typing import Any

from tailorcrm.errors import NotFittedError, NotFoundError
from tailorcrm.serving.cache import ModelCache
from tailorcrm.serving.recommend import similar_items
from tailorcrm.store import Store

TOP = 20
SIMILAR = 10
SEARCH_LIMIT = 50

Counts = dict[str, tuple[Counter[str], int]]
Stamp = dict[str, tuple[int, int]]
_counts: weakref.WeakKeyDictionary[Store, dict[int, tuple[Stamp, Counts]]] = (
    weakref.WeakKeyDictionary())
_lock = threading.Lock()


def recommended_counts(store: Store, tid: int) -> Counts:
    """``{strategy: (lists holding each item, lists read)}``, cached per tenant until its
    precomputed lists change."""
    stamp = store.console.list_stamps(tid)
    with _lock:
        held = _counts.get(store, {}).get(tid)
    if held is not None and held[0] == stamp:
        return held[1]
    counts: Counts = {s: store.console.recommended_counts(tid, s) for s in sorted(stamp)}
    with _lock:
        _counts.setdefault(store, {})[tid] = (stamp, counts)
    return counts


def _share(count: int, lists: int) -> float:
    return count / lists if lists else 0.0


def items_page(store: Store, tid: int, query: str) -> dict[str, Any]:
    """The search's hits and, per strategy, the most recommended items and how many of the
    catalog's items no list holds."""
    query = query.strip()
    hits = store.console.find_items(tid, query, limit=SEARCH_LIMIT)
    catalog, _ = store.items.catalog(tid)
    strategies = []
    for strategy, (counts, lists) in recommended_counts(store, tid).items():
        top = counts.most_common(TOP)
        titles = store.console.item_titles(tid, [i for i, _ in top])
        strategies.append({
            "strategy": strategy, "lists": lists,
            "top": [{"item_id": i, "title": titles.get(i, ""), "count": n,
                     "share": _share(n, lists)} for i, n in top],
            "recommended": len(counts), "never": len(catalog - set(counts)),
            "catalog": len(catalog)})
    return {"query": query, "hits": hits, "limit": SEARCH_LIMIT, "n_items": len(catalog),
            "strategies": strategies}


def item_page(store: Store, cache: ModelCache, tid: int, item_id: str) -> dict[str, Any]:
    """One item: its fields, similar items (with their scores) from the served model, and its
    share of each strategy's lists. NotFoundError when neither the store nor the model holds
    it."""
    record = store.items.find(tid, item_id)
    similar: list[dict[str, Any]] = []
    model_version = None
    no_model = ""
    try:
        model_version, found = similar_items(store, cache, tid, item_id, SIMILAR)
        titles = store.console.item_titles(tid, [i for i, _ in found])
        similar = [{"item_id": i, "title": titles.get(i, ""), "score": s} for i, s in found]
    except NotFittedError:
        no_model = ("No recommender is trained yet, so there are no similar items: start "
                    "training on the Jobs page.")
    if record is None and model_version is None:
        raise NotFoundError(f"no item {item_id!r}", item_id=item_id)
    recommended = []
    for strategy, (counts, lists) in recommended_counts(store, tid).items():
        n = counts.get(item_id, 0)
        rank = 1 + sum(1 for c in counts.values() if c > n) if n else None
        recommended.append({"strategy": strategy, "lists": lists, "count": n,
                            "share": _share(n, lists), "rank": rank,
                            "of": len(counts)})
    return {"item_id": item_id, "item": record, "similar": similar,
            "model_version": model_version, "no_model": no_model,
            "recommended": recommended}
