"""Experiment exposures (which variant a customer was shown, when) and the outcome events read
to attribute them; the experiments' configs themselves are config documents (kind
``experiment``, :mod:`tailorcrm.store.configs`)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Boolean, DateTime, ForeignKey, Index, String, delete, func, insert, select
from sqlalchemy.orm import Mapped, mapped_column

from tailorcrm.store.base import Repository, as_utc
from tailorcrm.store.tables import Base, BigId, Event

READ_CHUNK = 10_000  # rows fetched per round trip when streaming outcomes


class ExperimentExposure(Base):
    """One served list (or action answer) of an experiment's variant to one customer.

    ``consented`` is False for customers without personalization consent: they are shown the
    control and counted apart. Keeps the external customer id, so erasure deletes these rows
    (``store/erasure.py``, ``CUSTOMER_TABLES``).
    """

    __tablename__ = "experiment_exposures"
    __table_args__ = (
        Index("ix_exposures_tenant_experiment_ts", "tenant_id", "experiment", "ts"),
        Index("ix_exposures_tenant_customer", "tenant_id", "customer_id"),
        {"sqlite_autoincrement": True},
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    experiment: Mapped[str] = mapped_column(String(100))
    variant: Mapped[str] = mapped_column(String(100))
    customer_id: Mapped[str] = mapped_column(String(255))
    ts: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    consented: Mapped[bool] = mapped_column(Boolean)


@dataclass(frozen=True)
class ExposureRow:
    """One exposure, as written and read back."""

    tenant_id: int
    experiment: str
    variant: str
    customer_id: str
    ts: dt.datetime
    consented: bool = True


@dataclass(frozen=True)
class OutcomeRow:
    """One event that may be an outcome: who, what, how much, when, and the recommendation id
    it carries (the ``recommendation_id`` event property), if any."""

    customer_id: str
    type: str
    value: float | None
    ts: dt.datetime
    recommendation_id: str | None


class ExperimentRepository(Repository):
    """Exposures of a tenant's experiments and the events their outcomes are read from."""

    def record(self, rows: Sequence[ExposureRow]) -> int:
        """Append exposures (of any tenants: a worker's buffer holds several) in one
        transaction; returns how many."""
        if not rows:
            return 0
        with self._engine.begin() as conn:
            conn.execute(insert(ExperimentExposure), [
                {"tenant_id": r.tenant_id, "experiment": r.experiment[:100],
                 "variant": r.variant[:100], "customer_id": r.customer_id[:255],
                 "ts": r.ts, "consented": r.consented} for r in rows])
        return len(rows)

    def exposures(self, tid: int, experiment: str) -> list[ExposureRow]:
        """Every exposure of one experiment, oldest first."""
        stmt = select(ExperimentExposure.variant, ExperimentExposure.customer_id,
                      ExperimentExposure.ts, ExperimentExposure.consented).where(
            ExperimentExposure.tenant_id == tid, ExperimentExposure.experiment == experiment,
        ).order_by(ExperimentExposure.ts, ExperimentExposure.id)
        with self._engine.connect() as conn:
            return [ExposureRow(tid, experiment, r.variant, r.customer_id,
                                as_utc(r.ts) or r.ts, bool(r.consented))
                    for r in conn.execute(stmt)]

    def counts(self, tid: int) -> dict[str, int]:
        """Exposures per experiment of the tenant."""
        stmt = select(ExperimentExposure.experiment, func.count()).where(
            ExperimentExposure.tenant_id == tid).group_by(ExperimentExposure.experiment)
        with self._engine.connect() as conn:
            return {str(name): int(n) for name, n in conn.execute(stmt)}

    def forget(self, tid: int, experiment: str) -> int:
        """Delete one experiment's exposures (the experiment itself stays); returns rows."""
        with self._engine.begin() as conn:
            result = conn.execute(delete(ExperimentExposure).where(
                ExperimentExposure.tenant_id == tid,
                ExperimentExposure.experiment == experiment))
        return int(result.rowcount or 0)

    def outcomes(self, tid: int, customer_ids: Iterable[str], since: dt.datetime,
                 until: dt.datetime | None, types: Sequence[str] | None = None,
                 ) -> Iterator[OutcomeRow]:
        """Events of these customers from ``since`` to ``until`` (of ``types``, or all),
        streamed in chunks of customers."""
        wanted = sorted(set(customer_ids))
        for start in range(0, len(wanted), 500):
            stmt = select(Event.customer_id, Event.type, Event.value, Event.ts,
                          Event.attributes).where(
                Event.tenant_id == tid, Event.customer_id.in_(wanted[start:start + 500]),
                Event.ts >= since)
            if until is not None:
                stmt = stmt.where(Event.ts <= until)
            if types is not None:
                stmt = stmt.where(Event.type.in_(list(types)))
            with self._engine.connect() as conn:
                result = conn.execution_options(stream_results=True,
                                                yield_per=READ_CHUNK).execute(stmt)
                for r in result:
                    yield OutcomeRow(r.customer_id, r.type, r.value, as_utc(r.ts) or r.ts,
                                     _rec_id(r.attributes))


def _rec_id(attributes: Any) -> str | None:
    found = attributes.get("recommendation_id") if isinstance(attributes, dict) else None
    return found if isinstance(found, str) and found else None
