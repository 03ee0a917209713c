"""Consent per purpose, honoured where each purpose is used, at the next request.

* ``personalization``: recommendations (serving reads it through its change feed);
* ``marketing``: marketing exports (``customize/export.py``);
* ``profiling``: need scores (scored, served, exported) and segment membership in exports.

A denied purpose takes effect on the next request or export: readers ask the customer's row
now, not the state the last training saw. ``unknown`` is not a denial (only ``denied`` is),
except where a caller asks for ``granted`` explicitly (``require_granted`` of an export).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, TypeVar

from tailorcrm.store import Store
from tailorcrm.store.consent import Purpose

PROFILING: Purpose = "profiling"
MARKETING: Purpose = "marketing"
PERSONALIZATION: Purpose = "personalization"
RowT = TypeVar("RowT", bound=Mapping[str, Any])
WITHHELD_PROFILING = "profiling consent denied"
"""Why a customer's need scores are withheld (the ``withheld`` of the needs route)."""


def allows(state: str | None) -> bool:
    """Whether a consent state lets the purpose go ahead (anything but ``denied``)."""
    return state != "denied"


def profiling_allowed(store: Store, tid: int, customer_id: str) -> bool:
    """Whether the customer's need scores may be used now (profiling not denied)."""
    return allows(store.consent.state(tid, customer_id, PROFILING))


def without_denied(store: Store, tid: int, purpose: Purpose,
                   rows: Iterable[RowT]) -> list[RowT]:
    """``rows`` (each with a ``customer_id``) without the customers who denied ``purpose``."""
    batch = list(rows)
    denied = store.consent.denied_among(tid, purpose, (str(r["customer_id"]) for r in batch))
    return [r for r in batch if str(r["customer_id"]) not in denied] if denied else batch
