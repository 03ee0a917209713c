"""The suppression list: erased ids are refused until the tenant lifts the suppression.

Segment's "suppress with delete" keeps a list of deleted users whose later data is dropped.
tailorcrm reuses the erasure tombstones for it (a keyed hash per erased id, never the id): an
import, upsert or event of a suppressed id is refused per row with
:data:`~tailorcrm.store.tombstones.SUPPRESSED_REASON`. Lifting is an explicit, audited act.
"""

from __future__ import annotations

from tailorcrm.errors import NotFoundError
from tailorcrm.privacy.audit import LIFT, audit_action, customer_target
from tailorcrm.store import Store


def is_suppressed(store: Store, tid: int, customer_id: str) -> bool:
    """Whether ``customer_id`` was erased and its suppression stands."""
    return bool(store.tombstones.erased_among(tid, [customer_id]))


def lift(store: Store, tid: int, customer_id: str, actor: str) -> int:
    """Accept ``customer_id`` again (imports, upserts, events); audited.

    Returns the audit entry id; NotFoundError when the id is not suppressed.
    """
    lifted = store.tombstones.lift(tid, customer_id)
    if not lifted:
        raise NotFoundError("this id is not suppressed", customer_id=customer_id)
    return audit_action(store, tid, actor, LIFT, customer_target(store, tid, customer_id),
                        {"tombstones": lifted})
