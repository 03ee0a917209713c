"""Validation of a custom-field change against the values already stored: what would break."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from tailorcrm.schema.fields import FieldSpec, coerce_value, is_missing

MAX_LISTED_PROBLEMS = 100


class ValueProblem(BaseModel):
    """One stored value that does not fit the new spec."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    row_id: str = Field(description="The row's external id (customer_id, item_id, event key).")
    value: Any = Field(description="The value as stored (None if missing).")
    reason: str


class ChangeReport(BaseModel):
    """What applying a field spec to the stored rows would do.

    ``problems`` lists up to ``MAX_LISTED_PROBLEMS`` rows whose value would break;
    ``n_problems`` counts them all. ``n_converted`` counts values that fit once coerced
    (e.g. the string ``"42"`` becoming the integer ``42``) and would be rewritten.
    """

    model_config = ConfigDict(extra="forbid")

    entity: str
    field: str
    action: str = "change"
    rows_checked: int = 0
    n_converted: int = 0
    n_problems: int = 0
    problems: list[ValueProblem] = Field(default_factory=list)
    applied: bool = False

    @property
    def ok(self) -> bool:
        """True when no stored value would break."""
        return self.n_problems == 0

    def summary(self) -> str:
        """One line for people: rows checked, converted, broken."""
        state = "applied" if self.applied else "not applied"
        return (f"{self.action} {self.entity}.{self.field}: {self.rows_checked} rows checked, "
                f"{self.n_converted} values converted, {self.n_problems} would break ({state})")


def check_values(
    spec: FieldSpec,
    rows: Iterable[tuple[str, Any, bool]],
    report: ChangeReport,
) -> Iterator[tuple[str, Any]]:
    """Check stored values against ``spec``, filling ``report``.

    Parameters
    ----------
    spec:
        The new field spec.
    rows:
        ``(row_id, value, present)`` per stored row; ``present`` is False when the row has no
        value under the field name at all.
    report:
        Updated in place (rows checked, conversions, problems).

    Yields
    ------
    (row_id, new_value)
        For every row whose stored value must be rewritten to fit (coerced or defaulted).
    """
    for row_id, value, present in rows:
        report.rows_checked += 1
        try:
            new = coerce_value(spec, value)
        except (ValueError, TypeError) as exc:
            report.n_problems += 1
            if len(report.problems) < MAX_LISTED_PROBLEMS:
                report.problems.append(ValueProblem(row_id=row_id, value=value, reason=str(exc)))
            continue
        if new is None and (not present or is_missing(value)):
            continue
        if not present or new != value or type(new) is not type(value):
            report.n_converted += 1
            yield row_id, new
