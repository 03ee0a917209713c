"""The right to erasure (GDPR Art. 17, CCPA deletion): one customer, or a file of ids.

:func:`erase` removes the customer's rows everywhere the store keeps them (profile, events and
feedback, quarantined source rows holding the id, segment memberships, need scores,
precomputed lists), leaves a tombstone that is also the suppression (a re-import of an old
file does not bring them back until the tenant lifts it) and appends an audit entry holding
the keyed hash and the counts, all in one transaction. Then it replaces the id in every model
artifact file of the tenant and reclaims the space (SQLite: WAL checkpoint, deleted content
already zeroed by ``secure_delete``). Serving forgets the customer within one change-feed
poll in every worker. See ``docs/privacy.md``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from tailorcrm.errors import NotFoundError, ValidationError
from tailorcrm.privacy.artifacts import scrub_artifacts
from tailorcrm.privacy.audit import ERASE, RECLAIM, audit_action
from tailorcrm.schema.ids import canonical, id_problem
from tailorcrm.store import Store

log = logging.getLogger(__name__)

MAX_BATCH = 100_000


@dataclass(frozen=True)
class ErasureReceipt:
    """What one erasure did: rows removed by table, ids replaced in artifact files, the audit
    entry, and the keyed hash it names the customer by (never the id)."""

    target: str
    removed: dict[str, int]
    artifacts: int = 0
    audit_id: int | None = None

    @property
    def found(self) -> bool:
        """Whether the store held anything of the customer."""
        return any(self.removed.values())


@dataclass
class BatchReceipt:
    """A batch erasure: how many ids were erased, how many were unknown, and each receipt."""

    erased: int = 0
    not_found: int = 0
    receipts: list[ErasureReceipt] = field(default_factory=list)
    reclaimed: str = ""


def erase(store: Store, tid: int, customer_id: str, actor: str, *, via: str = "api",
          reclaim: bool = True) -> ErasureReceipt:
    """Erase one customer everywhere (see the module doc); NotFoundError when the store holds
    nothing of them (nothing is written then)."""
    receipt = _erase_one(store, tid, customer_id, actor, via)
    if not receipt.found:
        raise NotFoundError(f"no customer {customer_id!r}", customer_id=customer_id)
    if reclaim and store.backend == "sqlite":  # cheap: fold and truncate the WAL
        store.erasures.reclaim()
    # PostgreSQL: VACUUM scans whole indexes, too much per request; batches and
    # `tailorcrm privacy vacuum` run it, autovacuum does the same later
    return receipt


def erase_many(store: Store, tid: int, customer_ids: Iterable[str], actor: str, *,
               via: str = "cli", vacuum: bool = False) -> BatchReceipt:
    """Erase every id of ``customer_ids`` (unknown ids are counted, not errors), then reclaim
    the space once (``vacuum``: a full VACUUM, see :meth:`ErasureRepository.reclaim`)."""
    out = BatchReceipt()
    for customer_id in dict.fromkeys(customer_ids):
        receipt = _erase_one(store, tid, customer_id, actor, via)
        if receipt.found:
            out.erased += 1
            out.receipts.append(receipt)
        else:
            out.not_found += 1
    out.reclaimed = reclaim(store, tid, actor, full=vacuum) if out.erased or vacuum else ""
    return out


def reclaim(store: Store, tid: int, actor: str, *, full: bool = False) -> str:
    """Reclaim the space of deleted rows (``tailorcrm privacy vacuum``), audited."""
    done = store.erasures.reclaim(full=full)
    audit_action(store, tid, actor, RECLAIM, details={"done": done, "full": full})
    return done


def read_id_file(path: Path) -> list[str]:
    """The customer ids of a batch file: one per line (blank lines and ``#`` comments
    skipped); ValidationError naming the line of a bad id."""
    ids: list[str] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        value = canonical(text)
        if (problem := id_problem(value)) is not None:
            raise ValidationError(f"line {number}: {problem}", line=number, field="customer_id",
                                  reason=problem)
        ids.append(value)
    if len(ids) > MAX_BATCH:
        raise ValidationError(f"at most {MAX_BATCH} ids per batch file", n_ids=len(ids))
    return ids


def _erase_one(store: Store, tid: int, customer_id: str, actor: str, via: str
               ) -> ErasureReceipt:
    outcome = store.erasures.erase(tid, customer_id, actor=actor, action=ERASE,
                                   details={"via": via})
    target = store.tombstones.hasher(tid)(customer_id)
    if not outcome.found:
        return ErasureReceipt(target, outcome.counts)
    replaced = scrub_artifacts(store, tid, {target})
    log.info("tenant %d: erasure %s done (%d rows, %d artifact ids)", tid, target[:12],
             sum(outcome.counts.values()), replaced)
    return ErasureReceipt(target, outcome.counts, replaced, outcome.audit_id)
