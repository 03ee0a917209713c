"""Batch job: a list for every customer, as rows for ``store.recommendations.replace``."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

from tailorcrm.recommend.ranking import Ranker

log = logging.getLogger(__name__)

#: step name, units done, units in all (the signature of ``tailorcrm.jobs.progress``).
Progress = Callable[[str, int, int | None], None]


def _silent(step: str, done: int, total: int | None) -> None:
    """No progress output (the library default; the CLI passes a Rich bar)."""


def recommend_all(
    ranker: Ranker,
    *,
    model_version: str = "",
    config_hash: str = "",
    customer_ids: Sequence[str] | None = None,
    n: int | None = None,
    batch_size: int = 256,
    progress: Progress = _silent,
) -> list[dict[str, Any]]:
    """Lists for ``customer_ids`` (every customer of the data set by default).

    Returns rows ``{customer_id, model_version, config_hash, items}`` where ``items`` are
    ``Recommendation.to_dict()`` payloads (item id, score, reasons): exactly what
    ``store.recommendations.replace(tid, strategy, rows)`` stores for serving.
    """
    ids = [str(c) for c in (customer_ids if customer_ids is not None
                            else ranker.data.customer_vocab.ids)]
    rows: list[dict[str, Any]] = []
    progress("recommendations", 0, len(ids))
    for start in range(0, len(ids), batch_size):
        chunk = ids[start:start + batch_size]
        for customer_id, recs in ranker.recommend_for(chunk, n).items():
            rows.append({"customer_id": customer_id, "model_version": model_version,
                         "config_hash": config_hash, "items": [r.to_dict() for r in recs]})
        progress("recommendations", min(start + batch_size, len(ids)), len(ids))
    log.info("recommended for %d customers", len(rows))
    return rows
