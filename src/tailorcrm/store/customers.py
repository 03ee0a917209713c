"""Customers of a tenant: upsert with field validation, consent, get, delete, filtered lists.

Consent is kept per purpose (personalization, marketing, profiling), each with its time and
source (``api``, ``import``, ``cli``); every change is appended to the consent history in the
transaction of the write (``store/consent.py``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, update

from tailorcrm.errors import NotFoundError, ValidationError
from tailorcrm.schema.fields import is_missing
from tailorcrm.store.base import as_utc, rows_of, to_utc
from tailorcrm.store.consent import PURPOSES, ConsentRepository, Source, check_source
from tailorcrm.store.entity import EntityRepository
from tailorcrm.store.fields import FieldRepository
from tailorcrm.store.indexes import TABLES
from tailorcrm.store.records import Consent, CustomerRecord, UpsertResult
from tailorcrm.store.tables import utcnow
from tailorcrm.store.tombstones import SUPPRESSED_REASON, TombstoneRepository, lock_erasures
from tailorcrm.store.validation import RowErrors

if TYPE_CHECKING:
    import pandas as pd

CONSENT_KINDS = PURPOSES
SOURCE_KEY = "consent_source"  # the source a write stamps on the consent it changes
_CHANGES_KEY = "_consent_changes"  # history rows of a merged record, written with it
_GRANTED = {"granted", "grant", "yes", "y", "true", "t", "1", "opt_in", "opt-in"}
_DENIED = {"denied", "deny", "no", "n", "false", "f", "0", "opt_out", "opt-out"}


def parse_consent(value: Any) -> Consent:
    """``granted``/``denied``/``unknown`` from common spellings (booleans, yes/no, opt-in/out).

    Raises ``ValueError`` for anything else.
    """
    if is_missing(value):
        return "unknown"
    text = str(value).strip().lower()
    if text in _GRANTED:
        return "granted"
    if text in _DENIED:
        return "denied"
    if text == "unknown":
        return "unknown"
    raise ValueError(f"{value!r} is not a consent state (granted, denied, unknown)")


class StoredCustomer(CustomerRecord):
    """A stored customer with the consent columns of revision 0008: profiling, and where
    each purpose's state came from (``api``, ``import``, ``cli``; None: never set)."""

    consent_profiling: Consent = "unknown"
    consent_profiling_at: dt.datetime | None = None
    consent_personalization_source: Source | None = None
    consent_marketing_source: Source | None = None
    consent_profiling_source: Source | None = None


class CustomerRepository(EntityRepository[StoredCustomer]):
    """Customers, known by the tenant's ``customer_id``."""

    entity = "customer"
    table = TABLES["customer"]
    id_column = "customer_id"
    builtin = (*(c for p in PURPOSES for c in (f"consent_{p}", f"consent_{p}_at")),
               SOURCE_KEY)
    record = StoredCustomer

    def __init__(self, engine: Engine, fields: FieldRepository,
                 tombstones: TombstoneRepository | None = None) -> None:
        super().__init__(engine, fields)
        self._tombstones = tombstones

    def upsert(self, tid: int, rows: Iterable[Mapping[str, Any]] | pd.DataFrame, *,
               source: Source = "api") -> UpsertResult:
        """As :meth:`EntityRepository.upsert`; a row of an erased (suppressed) id is refused
        (ValidationError naming row, field and reason) until the tenant lifts the
        suppression. A consent a row changes is stamped with ``source`` and recorded in the
        consent history."""
        check_source(source)
        batch = [{**r, SOURCE_KEY: source} for r in rows_of(rows)]
        if self._tombstones is not None:
            self._tombstones.hasher(tid)  # cached now: the write transaction reads no secret
        if self._tombstones is not None and self._tombstones.any(tid):
            ids = {str(r.get("customer_id")): i for i, r in reversed(list(enumerate(batch)))
                   if not is_missing(r.get("customer_id"))}
            erased = self._tombstones.erased_among(tid, ids)
            if erased:
                errors = RowErrors(self.entity)
                for i, row in enumerate(batch):
                    if str(row.get("customer_id")) in erased:
                        errors.add(i, str(row.get("customer_id"))[:100], "customer_id",
                                   SUPPRESSED_REASON)
                errors.raise_if_any()
        return super().upsert(tid, batch)

    def _builtin_values(self, given: dict[str, Any], old: Mapping[str, Any] | None, row: int,
                        row_id: str, errors: RowErrors) -> dict[str, Any]:
        out: dict[str, Any] = {}
        source = str(given.get(SOURCE_KEY) or "api")
        changes = list(old.get(_CHANGES_KEY, ())) if old is not None else []
        for kind in CONSENT_KINDS:
            col = f"consent_{kind}"
            if col not in given and old is not None:
                continue
            try:
                state = parse_consent(given.get(col))
            except ValueError as exc:
                errors.add(row, row_id, col, str(exc))
                continue
            out[col] = state
            at = given.get(f"{col}_at")
            try:
                if not is_missing(at):
                    out[f"{col}_at"] = to_utc(at, field=f"{col}_at")
                elif old is None or old.get(col) != state:
                    out[f"{col}_at"] = utcnow() if state != "unknown" else None
            except ValidationError as exc:
                errors.add(row, row_id, f"{col}_at", exc.message)
                continue
            if col in given and state != (old.get(col) if old is not None else "unknown"):
                out[f"{col}_source"] = source
                changes.append({"customer_id": row_id, "purpose": kind, "value": state,
                                "source": source, "at": out.get(f"{col}_at") or utcnow()})
        if changes:
            out[_CHANGES_KEY] = changes
        return out

    def _write(self, conn: Connection, records: list[dict[str, Any]]) -> None:
        """Write the rows and, in the same transaction, the consent changes they carry."""
        history = [c for r in records for c in r.pop(_CHANGES_KEY, ())]
        for record in records:  # one executemany: every record gives every column
            for purpose in PURPOSES:
                record.setdefault(f"consent_{purpose}_source", None)
        super()._write(conn, records)
        ConsentRepository.append_in(conn, records[0]["tenant_id"] if records else 0, history)
        self._refuse_erased_meanwhile(conn, records)

    def _refuse_erased_meanwhile(self, conn: Connection, records: list[dict[str, Any]]
                                 ) -> None:
        """Roll the write back when one of its customers was erased after the upsert's
        suppression check (an erasure committing between the check and the write)."""
        if self._tombstones is None or not records:
            return
        tid = int(records[0]["tenant_id"])
        lock_erasures(conn, tid)
        erased = TombstoneRepository.suppressed_in(
            conn, tid, [str(r["customer_id"]) for r in records], self._tombstones.hasher(tid))
        if erased:
            errors = RowErrors(self.entity)
            for i, record in enumerate(records):
                if record["customer_id"] in erased:
                    errors.add(i, str(record["customer_id"])[:100], "customer_id",
                               SUPPRESSED_REASON)
            errors.raise_if_any()

    def _record(self, row: Mapping[Any, Any]) -> StoredCustomer:
        record = super()._record(row)
        if record.consent_profiling_at is not None:
            record.consent_profiling_at = as_utc(record.consent_profiling_at)
        return record

    def set_consent(self, tid: int, customer_id: str, kind: str, state: str,
                    at: dt.datetime | None = None, *, source: Source = "api") -> None:
        """Record a customer's consent for one purpose (``kind``: personalization, marketing
        or profiling), its time and source, and append the change to the history."""
        if kind not in CONSENT_KINDS:
            raise ValidationError(f"unknown consent kind {kind!r}; use {list(CONSENT_KINDS)}",
                                  field="consent")
        check_source(source)
        try:
            parsed = parse_consent(state)
        except ValueError as exc:
            raise ValidationError(str(exc), field=f"consent_{kind}") from exc
        when = to_utc(at) if at else utcnow()
        with self._engine.begin() as conn:
            result = conn.execute(update(self.table).where(
                self.table.c.tenant_id == tid, self.table.c.customer_id == customer_id,
            ).values({f"consent_{kind}": parsed, f"consent_{kind}_at": when,
                      f"consent_{kind}_source": source, "updated_at": utcnow()}))
            if not result.rowcount:
                raise NotFoundError(f"no customer {customer_id!r}", customer_id=customer_id)
            ConsentRepository.append_in(conn, tid, [{
                "customer_id": customer_id, "purpose": kind, "value": parsed,
                "source": source, "at": when}])

