"""Vectorized cleaning and type coercion of text columns, with a mask of the values that fail.

``schema.fields.coerce_value`` does the same for one value; this module does it for a whole
column at once (pandas/pyarrow), which is what keeps a 500,000-row import in seconds. Each
coercer returns the converted Series and a boolean mask of non-missing values that did not fit;
reasons are written only for those rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from tailorcrm.schema.fields import FieldSpec, FieldType

_OFFSET = r"(?:Z|[+-]\d{2}:?\d{2})$"
_TRUE = ("true", "t", "yes", "y", "1", "on", "1.0")
_FALSE = ("false", "f", "no", "n", "0", "off", "0.0")


@dataclass
class Coerced:
    """A converted column and the rows whose value did not convert."""

    values: pd.Series
    bad: np.ndarray
    expected: str

    def reasons(self, raw: pd.Series) -> list[str]:
        """One reason per bad row, quoting the raw value."""
        return [f"{value!r} is not {self.expected}" for value in raw[self.bad].tolist()]


def clean_text(series: pd.Series, null_values: Sequence[str] = ("",)) -> pd.Series:
    """Values as trimmed text (``str`` dtype); ``null_values`` and blanks become missing.

    Typed values (numbers, booleans from JSON or Parquet) become their text; a column holding
    lists (JSON arrays) is kept as it is, for list fields and categories.
    """
    if series.dtype == object and series.map(lambda v: isinstance(v, list | tuple)).any():
        return series
    present = series.notna()
    if not pd.api.types.is_string_dtype(series.dtype) or series.dtype == object:
        if pd.api.types.is_bool_dtype(series.dtype):
            series = series.map({True: "true", False: "false"})
        elif pd.api.types.is_float_dtype(series.dtype):
            whole = series.dropna()
            if np.isfinite(whole).all() and (whole % 1 == 0).all():
                # integers stored as floats because of missing values (ids, counts): 101, not
                # 101.0
                series = series.astype("Int64")
        series = series.astype("str").where(present)
    series = series.str.strip()
    missing = series.isna()
    if null_values:
        missing |= series.isin(list(null_values))
    return series.mask(missing)


def _fast_float(text: pd.Series) -> pd.Series | None:
    """pyarrow's cast when every value parses (the common case), else None."""
    if not isinstance(text.dtype, pd.StringDtype):
        return None
    try:
        cast = pc.cast(pa.array(text, type=pa.string(), from_pandas=True), pa.float64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    return pd.Series(cast.to_numpy(zero_copy_only=False), index=text.index, dtype=float)


def to_number(text: pd.Series) -> Coerced:
    """Text to float64; blanks are missing, anything else non-numeric is bad."""
    if pd.api.types.is_float_dtype(text.dtype):
        values = text.astype(float)
    else:
        fast = _fast_float(text)
        values = fast if fast is not None else pd.to_numeric(text, errors="coerce").astype(float)
    bad = (text.notna() & ~np.isfinite(values.fillna(0.0))) | (text.notna() & values.isna())
    return Coerced(values.mask(bad), bad.to_numpy(bool), "a number")


def to_integer(text: pd.Series) -> Coerced:
    """Text to nullable Int64; fractions and non-numbers are bad."""
    number = to_number(text)
    fraction = number.values.notna() & (number.values % 1 != 0)
    bad = number.bad | fraction.to_numpy(bool)
    return Coerced(number.values.mask(bad).astype("Int64"), bad, "an integer")


def to_boolean(text: pd.Series) -> Coerced:
    """Text to nullable boolean from yes/no, true/false, 1/0, on/off (any case)."""
    lower = text.str.lower()
    is_true, is_false = lower.isin(_TRUE), lower.isin(_FALSE)
    values = pd.Series(pd.NA, index=text.index, dtype="boolean")
    values[is_true] = True
    values[is_false] = False
    bad = (text.notna() & ~is_true & ~is_false).to_numpy(bool)
    return Coerced(values, bad, "a boolean (yes/no, true/false, 1/0)")


def to_timestamp(text: pd.Series, fmt: str | None = None, timezone: str = "UTC") -> Coerced:
    """Text to UTC timestamps (``datetime64[us, UTC]``).

    ``fmt`` is a ``strftime`` format, ``"unix"`` (seconds) or ``"unix_ms"``; ``None`` reads
    ISO 8601. Naive times are taken in ``timezone``.
    """
    if fmt in ("unix", "unix_ms"):
        seconds = pd.to_numeric(text, errors="coerce")
        values = pd.to_datetime(seconds, unit="s" if fmt == "unix" else "ms", utc=True,
                                errors="coerce")
    elif fmt is not None and "%z" in fmt:
        values = pd.to_datetime(text, format=fmt, errors="coerce", utc=True)
    else:
        # times with an offset are converted from it; naive ones are taken in `timezone`
        aware = text.str.contains(_OFFSET, regex=True).fillna(False).to_numpy(bool) \
            if fmt is None else np.zeros(len(text), dtype=bool)
        values = pd.Series(pd.NaT, index=text.index, dtype="datetime64[us, UTC]")
        if aware.any():
            values[aware] = pd.to_datetime(text[aware], format="ISO8601", errors="coerce",
                                           utc=True).astype("datetime64[us, UTC]")
        if not aware.all():
            naive = pd.to_datetime(text[~aware], format=fmt or "ISO8601", errors="coerce")
            if naive.dt.tz is None:
                naive = naive.dt.tz_localize(timezone, ambiguous="NaT", nonexistent="NaT")
            values[~aware] = naive.dt.tz_convert("UTC").astype("datetime64[us, UTC]")
    values = values.astype("datetime64[us, UTC]")
    bad = (text.notna() & values.isna()).to_numpy(bool)
    expected = f"a time in format {fmt!r}" if fmt else "an ISO 8601 time"
    return Coerced(values, bad, expected)


def to_list(text: pd.Series, separator: str = "|") -> Coerced:
    """Separated text (or list values) to lists of trimmed, non-empty strings."""
    def split(value: object) -> list[str]:
        parts = value if isinstance(value, list | tuple) else str(value).split(separator)
        return [str(p).strip() for p in parts if str(p).strip()]

    values = text.map(split, na_action="ignore")
    return Coerced(values, np.zeros(len(text), dtype=bool), "a list")


def coerce_field(spec: FieldSpec, text: pd.Series, fmt: str | None = None,
                 timezone: str = "UTC") -> Coerced:
    """Coerce a cleaned text column to a custom field's type (see ``FieldType``)."""
    t = spec.type
    if t in (FieldType.STRING, FieldType.TEXT):
        return Coerced(text, np.zeros(len(text), dtype=bool), "text")
    if t is FieldType.INTEGER:
        return to_integer(text)
    if t is FieldType.NUMBER:
        return to_number(text)
    if t is FieldType.BOOLEAN:
        return to_boolean(text)
    if t in (FieldType.DATE, FieldType.DATETIME):
        stamp = to_timestamp(text, fmt, timezone)
        if t is FieldType.DATE:
            dates = stamp.values.dt.strftime("%Y-%m-%d").where(stamp.values.notna())
            return Coerced(dates, stamp.bad, stamp.expected)
        iso = stamp.values.dt.strftime("%Y-%m-%dT%H:%M:%S+00:00").where(stamp.values.notna())
        return Coerced(iso, stamp.bad, stamp.expected)
    if t is FieldType.ENUM:
        bad = (text.notna() & ~text.isin(list(spec.enum_values))).to_numpy(bool)
        return Coerced(text.mask(bad), bad, f"one of {list(spec.enum_values)}")
    return to_list(text)
