"""The data-quality report of an import: counts, errors by field, warnings and recommendations.

Modelled on Dynamics 365 Customer Insights' input-data usability report: besides what was loaded
and rejected it says what in the data will limit personalization (anonymous rows, customers with
a single event, sparse columns, many returns) and what to do about it.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from pydantic import BaseModel, ConfigDict

# Thresholds of the warnings (shares of rows read, or of customers).
ANONYMOUS_SHARE = 0.10
RETURN_SHARE = 0.05
REJECTED_SHARE = 0.01
DUPLICATE_SHARE = 0.01
SINGLE_EVENT_SHARE = 0.30
SPARSE_SHARE = 0.50


class Finding(BaseModel):
    """One finding: a stable code, a sentence, and what to do about it."""

    model_config = ConfigDict(extra="forbid")

    code: str
    message: str
    recommendation: str


class QualityReport(BaseModel):
    """What one import read, loaded and rejected, and what that means for the data's use."""

    model_config = ConfigDict(extra="forbid")

    entity: str
    source: str
    mapping: str
    rows_read: int = 0
    rows_loaded: int = 0
    rows_duplicate: int = 0
    rows_rejected: int = 0
    blank_lines: int = 0
    customers_created: int = 0
    items_created: int = 0
    anonymous_rows: int = 0
    return_rows: int = 0
    errors_by_field: dict[str, int] = {}
    errors_by_reason: dict[str, int] = {}
    column_missing_share: dict[str, float] = {}
    customers_with_one_event: int | None = None
    distinct_customers: int | None = None
    warnings: list[Finding] = []
    seconds: float = 0.0
    rows_per_second: float = 0.0

    @property
    def recommendations(self) -> list[str]:
        """The recommendation of each warning."""
        return [w.recommendation for w in self.warnings]

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready dict (as stored on the import run and written by ``--report-json``)."""
        data = self.model_dump(mode="json")
        data["recommendations"] = self.recommendations
        return data


def _reason_kind(reason: str) -> str:
    """A reason without its quoted values, to group reasons ("'x' is not a number")."""
    words = [w for w in reason.split() if not w.startswith(("'", '"', "b'"))]
    return " ".join(words)[:80]


@dataclass
class QualityTracker:
    """Accumulates the figures of a report over the chunks of one import."""

    entity: str
    source: str
    mapping: str
    counts: Counter[str] = field(default_factory=Counter)
    by_field: Counter[str] = field(default_factory=Counter)
    by_reason: Counter[str] = field(default_factory=Counter)
    nulls: Counter[str] = field(default_factory=Counter)
    events_per_customer: pd.Series = field(default_factory=lambda: pd.Series(dtype="int64"))

    def add_errors(self, fields: list[str], reasons: list[str]) -> None:
        """Count one chunk's problems by field and by kind of reason."""
        self.by_field.update(fields)
        self.by_reason.update(_reason_kind(r) for r in reasons)

    def add_customers(self, customer_ids: pd.Series) -> None:
        """Count events per (non-anonymous) customer."""
        counts = customer_ids.value_counts()
        self.events_per_customer = self.events_per_customer.add(counts, fill_value=0)

    def report(self, seconds: float, anonymous_prefix: str | None) -> QualityReport:
        """The report, with warnings judged on the whole import."""
        c = self.counts
        read = c["rows_read"]
        report = QualityReport(
            entity=self.entity, source=self.source, mapping=self.mapping, rows_read=read,
            rows_loaded=c["rows_loaded"], rows_duplicate=c["rows_duplicate"],
            rows_rejected=c["rows_rejected"], blank_lines=c["blank_lines"],
            customers_created=c["customers_created"], items_created=c["items_created"],
            anonymous_rows=c["anonymous"], return_rows=c["returns"],
            errors_by_field=dict(self.by_field.most_common()),
            errors_by_reason=dict(self.by_reason.most_common(20)),
            column_missing_share={k: round(v / read, 4) for k, v in self.nulls.items()}
            if read else {},
            seconds=round(seconds, 3), rows_per_second=round(read / seconds, 1) if seconds else 0)
        if self.entity == "events" and len(self.events_per_customer):
            per = self.events_per_customer
            if anonymous_prefix:
                per = per[~per.index.astype(str).str.startswith(anonymous_prefix)]
            report.distinct_customers = len(per)
            report.customers_with_one_event = int((per == 1).sum())
        report.warnings = _warnings(report)
        return report


def _warnings(r: QualityReport) -> list[Finding]:
    out: list[Finding] = []
    read = max(r.rows_read, 1)
    if r.rows_read == 0:
        out.append(Finding(code="no_rows", message="The file has no data rows.",
                            recommendation="Check that the right file was given."))
    if r.rows_rejected / read > REJECTED_SHARE:
        top = ", ".join(list(r.errors_by_field)[:3])
        out.append(Finding(
            code="many_rejected", message=f"{r.rows_rejected:,} rows ({r.rows_rejected / read:.1%})"
            f" were rejected, mostly for {top}.",
            recommendation="Export the quarantine (--quarantine-out) and fix the mapping or the "
            "source for the most frequent reasons, then import again (loaded rows stay)."))
    if r.rows_duplicate / read > DUPLICATE_SHARE:
        out.append(Finding(
            code="duplicates", message=f"{r.rows_duplicate:,} rows ({r.rows_duplicate / read:.1%})"
            " changed nothing: they repeat a row of this file or one stored already.",
            recommendation="Nothing to do when a file is imported again. If identical lines in "
            "one file are separate real events, map an idempotency key column or set "
            "keep_identical_rows = true."))
    if r.anonymous_rows / read > ANONYMOUS_SHARE:
        out.append(Finding(
            code="many_anonymous", message=f"{r.anonymous_rows:,} rows "
            f"({r.anonymous_rows / read:.1%}) have no customer and were kept as anonymous.",
            recommendation="Anonymous rows feed item popularity and co-occurrence only; join a "
            "customer id upstream if you can, or set missing_customer = \"reject\"."))
    if r.return_rows / read > RETURN_SHARE:
        out.append(Finding(
            code="many_returns", message=f"{r.return_rows:,} rows ({r.return_rows / read:.1%}) "
            "are returns or cancellations.",
            recommendation="Returns count against an item in recommendations; check the return "
            "rule of the mapping if this share is unexpected."))
    if r.distinct_customers and r.customers_with_one_event is not None and \
            r.customers_with_one_event / r.distinct_customers > SINGLE_EVENT_SHARE:
        share = r.customers_with_one_event / r.distinct_customers
        out.append(Finding(
            code="single_event_customers", message=f"{r.customers_with_one_event:,} customers "
            f"({share:.1%}) have a single event in this import.",
            recommendation="Personal recommendations need history: such customers get popular "
            "or content-based items until they have more events."))
    sparse = [k for k, v in r.column_missing_share.items() if v > SPARSE_SHARE]
    if sparse:
        out.append(Finding(
            code="sparse_columns", message=f"Columns mostly empty: {', '.join(sparse)}.",
            recommendation="Do not flag sparse attributes as model features; fill them upstream "
                           "or drop them from the mapping."))
    return out
