"""Vectorized JSON objects, one per row, from typed columns (the ``attributes`` column).

Written by hand because ``json.dumps`` per row costs about as much as the rest of an import;
here pyarrow concatenates the key/value fragments of whole columns at once. Only strings that
need escaping (quotes, backslashes, control characters) go through ``json.dumps`` one by one.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

_NEEDS_ESCAPE = r'["\\\x00-\x1f\x7f]'


def _string_literals(series: pd.Series) -> pa.Array:
    arr = pa.array(series, type=pa.string(), from_pandas=True)
    escape = pc.fill_null(pc.match_substring_regex(arr, _NEEDS_ESCAPE), False)
    quoted = pc.binary_join_element_wise('"', arr, '"', "")
    if not pc.any(escape).as_py():
        return quoted
    slow = np.flatnonzero(escape.to_numpy(zero_copy_only=False))
    values = quoted.to_pylist()
    raw = arr.to_pylist()
    for i in slow:
        values[i] = json.dumps(raw[i], ensure_ascii=False)
    return pa.array(values, type=pa.string())


def _literals(series: pd.Series) -> pa.Array:
    """JSON text of each value of a typed column; null where the value is missing."""
    dtype = series.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return pa.array(series.map({True: "true", False: "false"}), type=pa.string(),
                        from_pandas=True)
    if pd.api.types.is_integer_dtype(dtype):
        return pc.cast(pa.array(series, type=pa.int64(), from_pandas=True), pa.string())
    if pd.api.types.is_float_dtype(dtype):
        values = series.where(np.isfinite(series.fillna(np.nan).to_numpy(float)))
        return pc.cast(pa.array(values, type=pa.float64(), from_pandas=True), pa.string())
    if dtype is np.dtype(object) and series.map(lambda v: isinstance(v, list | tuple)).any():
        texts = series.map(lambda v: json.dumps(list(v), ensure_ascii=False),
                           na_action="ignore")
        return pa.array(texts, type=pa.string(), from_pandas=True)
    return _string_literals(series)


def json_objects(columns: dict[str, pd.Series], length: int) -> pa.Array:
    """One JSON object per row, with the non-missing values of ``columns`` as members."""
    if not columns:
        return pa.array(["{}"] * length, type=pa.string())
    # ',"name":value' per present value, "" per missing one, concatenated, first comma cut.
    # (Not null_handling="skip": pyarrow 26 drops rows whose values are all null with it.)
    fragments = [pc.fill_null(pc.binary_join_element_wise("," + json.dumps(name) + ":",
                                                          _literals(series), ""), "")
                 for name, series in columns.items()]
    body = pc.utf8_slice_codeunits(pc.binary_join_element_wise(*fragments, ""), 1)
    return pc.binary_join_element_wise("{", body, "}", "")
