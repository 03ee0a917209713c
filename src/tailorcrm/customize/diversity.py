"""The diversity cap: at most so many items per value of a field (category, brand...)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tailorcrm.customize.rule_engine import Candidate
from tailorcrm.customize.strategies import Diversity


def diversify(candidates: list[Candidate], items: Mapping[str, Mapping[str, Any]],
              diversity: Diversity, n: int) -> list[Candidate]:
    """The best ``n`` candidates with at most ``max_per_group`` per value of the field.

    Greedy in score order (the usual cap re-ranker); a list-valued field (``categories``)
    counts towards each of its values. Items without the field are never capped. The list
    may come back shorter than ``n`` when the cap leaves too few items.
    """
    cap = diversity.max_per_group
    if cap is None:
        return candidates[:n]
    counts: dict[str, int] = {}
    out: list[Candidate] = []
    for cand in candidates:
        value = (items.get(cand.item_id) or {}).get(diversity.field)
        groups = [str(v) for v in value] if isinstance(value, list | tuple) else (
            [] if value is None else [str(value)])
        if any(counts.get(g, 0) >= cap for g in groups):
            continue
        for g in groups:
            counts[g] = counts.get(g, 0) + 1
        out.append(cand)
        if len(out) == n:
            break
    return out
