"""The base of every repository: an engine, the backend name, and tenant-scoped helpers."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine

from tailorcrm.errors import ValidationError

if TYPE_CHECKING:  # pandas loads when these functions run: light commands skip it
    import pandas as pd


class Repository:
    """One entity's data access; every method takes the tenant id and never crosses tenants.

    Parameters
    ----------
    engine:
        The engine of the data store (see ``store/engine.py``).
    """

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    @property
    def backend(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self._engine.dialect.name


def to_utc(value: Any, *, field: str = "ts") -> dt.datetime:
    """A timezone-aware UTC datetime from a datetime, a pandas Timestamp or an ISO string.

    Naive values are taken as UTC. SQLite keeps no offset, so every timestamp is stored in UTC.

    Raises
    ------
    ValidationError
        When the value is missing or is not a date/time.
    """
    if isinstance(value, dt.datetime) and not hasattr(value, "tz_convert"):  # not pandas
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else \
            value.astimezone(dt.UTC)
    if isinstance(value, str) and len(value) >= 10 and value[4:5] == "-":
        try:  # ISO 8601 (with "Z" since Python 3.11): the common case, without pandas
            parsed = dt.datetime.fromisoformat(value.strip())
        except ValueError:
            pass  # pandas reads more spellings
        else:
            return to_utc(parsed, field=field)
    import pandas as pd
    if value is None or (isinstance(value, float) and value != value):
        raise ValidationError(f"{field} is missing", field=field)
    try:
        stamp = pd.Timestamp(value)
    except (ValueError, TypeError) as exc:
        raise ValidationError(f"{field}: {value!r} is not a date/time", field=field) from exc
    if stamp is pd.NaT:
        raise ValidationError(f"{field} is missing", field=field)
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    return stamp.to_pydatetime()


def utc_or_none(value: Any) -> dt.datetime | None:
    """Like :func:`to_utc` but None for a missing value."""
    import pandas as pd
    if value is None or value is pd.NaT or (isinstance(value, float) and value != value):
        return None
    return to_utc(value)


def as_utc(value: dt.datetime | None) -> dt.datetime | None:
    """A datetime read back from the database, made timezone-aware UTC (SQLite drops offsets)."""
    if value is None:
        return None
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def rows_of(rows: Iterable[Mapping[str, Any]] | pd.DataFrame) -> list[Mapping[str, Any]]:
    """A batch of row mappings from mappings or a DataFrame (one mapping per frame row)."""
    import pandas as pd
    if isinstance(rows, pd.DataFrame):
        return rows.to_dict("records")  # type: ignore[return-value]
    return list(rows)
