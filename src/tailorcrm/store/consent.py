"""Consent per purpose: the append-only history of changes, and who denied what, now.

A customer's current state for each purpose is on the ``customers`` row
(``consent_<purpose>``, ``_at``, ``_source``); every change is also appended to
``consent_history`` (customer, purpose, value, source, at) in the transaction that made it.
Readers ask the row at request time, so a change takes effect on the next request.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel
from sqlalchemy import Connection, bindparam, insert, select, update

from tailorcrm.errors import ValidationError
from tailorcrm.store.base import Repository, as_utc
from tailorcrm.store.tables import ConsentChange, Customer, utcnow

if TYPE_CHECKING:
    import pandas as pd

Purpose = Literal["personalization", "marketing", "profiling"]
Source = Literal["api", "import", "cli"]
PURPOSES: tuple[Purpose, ...] = ("personalization", "marketing", "profiling")
SOURCES: tuple[Source, ...] = ("api", "import", "cli")
CHUNK = 500  # ids per IN (...) look-up
MAX_HISTORY = 1000


class ConsentEvent(BaseModel):
    """One recorded change of one purpose's consent."""

    purpose: Purpose
    value: Literal["granted", "denied", "unknown"]
    source: Source
    at: dt.datetime


def check_purpose(purpose: str) -> Purpose:
    """``purpose`` when it is one of :data:`PURPOSES`; ValidationError otherwise."""
    if purpose not in PURPOSES:
        raise ValidationError(f"unknown consent purpose {purpose!r}; use {list(PURPOSES)}",
                              field="purpose")
    return purpose  # type: ignore[return-value]


def check_source(source: str) -> Source:
    """``source`` when it is one of :data:`SOURCES`; ValidationError otherwise."""
    if source not in SOURCES:
        raise ValidationError(f"unknown consent source {source!r}; use {list(SOURCES)}",
                              field="source")
    return source  # type: ignore[return-value]


class ConsentRepository(Repository):
    """Consent history of a tenant's customers, and the customers who denied a purpose."""

    @staticmethod
    def append_in(conn: Connection, tid: int, changes: Iterable[Mapping[str, Any]]) -> int:
        """Append changes (``customer_id``, ``purpose``, ``value``, ``source``, ``at``) in the
        caller's transaction; returns how many."""
        rows = [{"tenant_id": tid, "customer_id": str(c["customer_id"]),
                 "purpose": check_purpose(str(c["purpose"])), "value": str(c["value"]),
                 "source": check_source(str(c["source"])), "at": c.get("at") or utcnow()}
                for c in changes]
        if rows:
            conn.execute(insert(ConsentChange), rows)
        return len(rows)

    def history(self, tid: int, customer_id: str, *, purpose: str | None = None,
                limit: int = 100) -> list[ConsentEvent]:
        """The customer's consent changes, oldest first (at most ``limit``, the newest)."""
        stmt = select(ConsentChange.purpose, ConsentChange.value, ConsentChange.source,
                      ConsentChange.at).where(ConsentChange.tenant_id == tid,
                                              ConsentChange.customer_id == customer_id)
        if purpose is not None:
            stmt = stmt.where(ConsentChange.purpose == check_purpose(purpose))
        stmt = stmt.order_by(ConsentChange.id.desc()).limit(max(1, min(limit, MAX_HISTORY)))
        with self._engine.connect() as conn:
            rows = conn.execute(stmt).all()
        return [ConsentEvent(purpose=r.purpose, value=r.value, source=r.source,
                             at=as_utc(r.at) or r.at) for r in reversed(rows)]

    def state(self, tid: int, customer_id: str, purpose: str) -> str | None:
        """The customer's current state for ``purpose``; None when there is no such customer."""
        column = getattr(Customer, f"consent_{check_purpose(purpose)}")
        with self._engine.connect() as conn:
            found = conn.execute(select(column).where(
                Customer.tenant_id == tid, Customer.customer_id == customer_id)).first()
        return None if found is None else str(found[0])

    def denied_among(self, tid: int, purpose: str, customer_ids: Iterable[str]) -> set[str]:
        """The ids among ``customer_ids`` whose consent for ``purpose`` is ``denied`` now."""
        column = getattr(Customer, f"consent_{check_purpose(purpose)}")
        ids = sorted({str(c) for c in customer_ids})
        found: set[str] = set()
        with self._engine.connect() as conn:
            for start in range(0, len(ids), CHUNK):
                rows = conn.execute(select(Customer.customer_id).where(
                    Customer.tenant_id == tid, column == "denied",
                    Customer.customer_id.in_(ids[start:start + CHUNK])))
                found.update(str(r) for r in rows.scalars())
        return found

    def denied(self, tid: int, purpose: str) -> set[str]:
        """Every customer of the tenant whose consent for ``purpose`` is ``denied`` now."""
        column = getattr(Customer, f"consent_{check_purpose(purpose)}")
        with self._engine.connect() as conn:
            rows = conn.execute(select(Customer.customer_id).where(
                Customer.tenant_id == tid, column == "denied"))
            return {str(r) for r in rows.scalars()}

    @staticmethod
    def apply_import(conn: Connection, tid: int, frame: pd.DataFrame) -> int:
        """Set the consent columns a cleaned customers import chunk carries (in the caller's
        transaction, after the customers were written): a purpose whose state changes gets
        the time, source ``import`` and a history row. Returns the customers changed.

        The import's bulk writer may call this instead of its own consent update, so that
        imports record history like the API does.
        """
        columns = [p for p in PURPOSES if f"consent_{p}" in frame]
        if not columns or not len(frame):
            return 0
        part = frame.drop_duplicates("customer_id", keep="last")
        wanted: dict[str, dict[str, str]] = {str(cid): {str(p): str(v) for p, v in zip(
            columns, vals, strict=True)} for cid, *vals in zip(
            part["customer_id"], *(part[f"consent_{p}"] for p in columns), strict=True)}
        ids = sorted(wanted)
        current: dict[str, Mapping[str, Any]] = {}
        for start in range(0, len(ids), CHUNK):
            rows = conn.execute(select(Customer.customer_id, *(
                getattr(Customer, f"consent_{p}") for p in columns)).where(
                Customer.tenant_id == tid, Customer.customer_id.in_(ids[start:start + CHUNK])))
            current.update({str(r.customer_id): dict(r._mapping) for r in rows})
        now = utcnow()
        changed, history = _import_changes(wanted, current, now)
        groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        for cid, states in changed.items():  # one executemany per set of purposes changed
            groups.setdefault(tuple(sorted(states)), []).append(
                {"cid": cid, **{f"v_{p}": v for p, v in states.items()}})
        for purposes, params in groups.items():
            values: dict[str, Any] = {"updated_at": now}
            for purpose in purposes:
                values |= {f"consent_{purpose}": bindparam(f"v_{purpose}"),
                           f"consent_{purpose}_at": now, f"consent_{purpose}_source": "import"}
            conn.execute(update(Customer).where(
                Customer.tenant_id == tid, Customer.customer_id == bindparam("cid"),
            ).values(values), params)
        ConsentRepository.append_in(conn, tid, history)
        return len(changed)


def _import_changes(wanted: Mapping[str, Mapping[str, str]],
                    current: Mapping[str, Mapping[str, Any]], now: dt.datetime,
                    ) -> tuple[dict[str, dict[str, str]], Sequence[dict[str, Any]]]:
    """Per customer held, the purposes whose state differs; and their history rows."""
    changed: dict[str, dict[str, str]] = {}
    history: list[dict[str, Any]] = []
    for cid, states in wanted.items():
        row = current.get(cid)
        if row is None:
            continue
        for purpose, value in states.items():
            if value in ("", "nan", "None") or row[f"consent_{purpose}"] == value:
                continue
            changed.setdefault(cid, {})[purpose] = value
            history.append({"customer_id": cid, "purpose": purpose, "value": value,
                            "source": "import", "at": now})
    return changed, history
