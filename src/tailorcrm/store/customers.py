"""Customers of a tenant: upsert with field validation, consent, get, delete, filtered lists."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, update

from tailorcrm.errors import NotFoundError, ValidationError
from tailorcrm.schema.fields import is_missing
from tailorcrm.store.base import rows_of, to_utc
from tailorcrm.store.entity import EntityRepository
from tailorcrm.store.fields import FieldRepository
from tailorcrm.store.indexes import TABLES
from tailorcrm.store.records import Consent, CustomerRecord, UpsertResult
from tailorcrm.store.tables import utcnow
from tailorcrm.store.tombstones import SUPPRESSED_REASON, TombstoneRepository
from tailorcrm.store.validation import RowErrors

if TYPE_CHECKING:
    import pandas as pd

CONSENT_KINDS = ("personalization", "marketing")
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


class CustomerRepository(EntityRepository[CustomerRecord]):
    """Customers, known by the tenant's ``customer_id``."""

    entity = "customer"
    table = TABLES["customer"]
    id_column = "customer_id"
    builtin = ("consent_personalization", "consent_personalization_at", "consent_marketing",
               "consent_marketing_at")
    record = CustomerRecord

    def __init__(self, engine: Engine, fields: FieldRepository,
                 tombstones: TombstoneRepository | None = None) -> None:
        super().__init__(engine, fields)
        self._tombstones = tombstones

    def upsert(self, tid: int, rows: Iterable[Mapping[str, Any]] | pd.DataFrame) -> UpsertResult:
        """As :meth:`EntityRepository.upsert`; a row of an erased (suppressed) id is refused
        (ValidationError naming row, field and reason) until the tenant lifts the
        suppression."""
        batch = rows_of(rows)
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
        return out

    def set_consent(self, tid: int, customer_id: str, kind: str, state: str,
                    at: dt.datetime | None = None) -> None:
        """Record a customer's consent (``kind``: personalization or marketing) and its time."""
        if kind not in CONSENT_KINDS:
            raise ValidationError(f"unknown consent kind {kind!r}; use {list(CONSENT_KINDS)}",
                                  field="consent")
        try:
            parsed = parse_consent(state)
        except ValueError as exc:
            raise ValidationError(str(exc), field=f"consent_{kind}") from exc
        with self._engine.begin() as conn:
            result = conn.execute(update(self.table).where(
                self.table.c.tenant_id == tid, self.table.c.customer_id == customer_id,
            ).values({f"consent_{kind}": parsed,
                      f"consent_{kind}_at": to_utc(at) if at else utcnow(),
                      "updated_at": utcnow()}))
        if not result.rowcount:
            raise NotFoundError(f"no customer {customer_id!r}", customer_id=customer_id)
