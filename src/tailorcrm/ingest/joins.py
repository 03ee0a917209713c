"""Joins of related files into the rows of an import (an order-lines file with its orders and
customers), streamed chunk by chunk with the same quarantine rules.

The main file (the largest: order lines, ratings, events) streams in chunks as usual. Each
joined file is a lookup table read once, whole (orders, customers, products: tables keyed by
their id). A chunk's rows gain the joined columns by key, in the order the joins are listed,
so a later join may use a column an earlier one brought (lines -> orders -> customers).

Why by hand: pandas merges frames, but the rules of an import are row-level — a line whose
order is missing, or whose order id appears twice in the orders file, is one quarantined row
with its row number, field and reason, and every other row goes on — which no merge gives.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from tailorcrm.errors import ConfigError
from tailorcrm.ingest.chunks import Chunk
from tailorcrm.ingest.coerce import clean_text
from tailorcrm.ingest.mapping import JoinSpec
from tailorcrm.ingest.readers import read_chunks

MAX_LOOKUP_ROWS = 5_000_000  # a joined file is held in memory: beyond this, refuse clearly


@dataclass
class _Lookup:
    """One joined file, indexed by its key."""

    spec: JoinSpec
    path: Path
    table: pd.DataFrame  # indexed by the key (unique keys only), the joined columns
    duplicated: dict[str, list[int]]  # key -> its row numbers, for keys that repeat

    @property
    def label(self) -> str:
        return self.path.name


def _read_lookup(spec: JoinSpec, base: Path) -> _Lookup:
    path = spec.path_from(base)
    parts, numbers = [], []
    for chunk in read_chunks(path, spec.source, 200_000):
        if len(chunk.errors):
            first = chunk.errors
            raise ConfigError(f"joined file {path.name}: row {first.rows[0]} cannot be read "
                              f"({first.reasons[0]}); fix it or drop the row",
                              file=str(path), row=first.rows[0])
        parts.append(chunk.frame)
        numbers.append(chunk.row_numbers)
        if sum(len(p) for p in parts) > MAX_LOOKUP_ROWS:
            raise ConfigError(f"joined file {path.name} has over {MAX_LOOKUP_ROWS:,} rows: "
                              "import it on its own, or make it the main file")
    frame = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    rows = np.concatenate(numbers) if numbers else np.zeros(0, dtype=np.int64)
    if spec.key not in frame.columns:
        raise ConfigError(f"joined file {path.name} has no column {spec.key!r} "
                          f"(columns: {list(frame.columns)})", file=str(path))
    keys = clean_text(frame[spec.key].astype("str").where(frame[spec.key].notna()),
                      spec.source.null_values)
    frame = frame.drop(columns=[spec.key])
    keep = [c for c in frame.columns if c not in spec.drop]
    frame = frame[keep].rename(columns={c: f"{spec.prefix}{c}" for c in keep})
    # the joined file's own null values ("?", "NA", ...) are missing values in the rows
    frame = frame.apply(lambda col: clean_text(col, spec.source.null_values)
                        if col.dtype == object or pd.api.types.is_string_dtype(col) else col)
    frame.index = pd.Index(keys, name=None)
    present = keys.notna().to_numpy(bool)
    frame, rows, keys = frame[present], rows[present], keys[present]
    dup_mask = keys.duplicated(keep=False).to_numpy(bool)
    duplicated: dict[str, list[int]] = {}
    for key, row in zip(keys[dup_mask].tolist(), rows[dup_mask].tolist(), strict=True):
        duplicated.setdefault(str(key), []).append(int(row))
    return _Lookup(spec, path, frame[~dup_mask], duplicated)


class Joiner:
    """Adds the joined files' columns to every chunk of the main file.

    Parameters
    ----------
    joins:
        The mapping's joins, in order.
    main:
        The main file (joined files' relative paths start from its folder).
    """

    def __init__(self, joins: Sequence[JoinSpec], main: Path) -> None:
        self._lookups = [_read_lookup(j, main.parent) for j in joins]

    @property
    def columns(self) -> set[str]:
        """Every column the joins add."""
        return {c for lookup in self._lookups for c in lookup.table.columns}

    def apply(self, chunks: Iterator[Chunk]) -> Iterator[Chunk]:
        """The chunks with the joined columns; rows whose key is missing, unknown (for a
        required join) or ambiguous are rejected with their row number, field and reason."""
        for chunk in chunks:
            yield self._join(chunk)

    def _join(self, chunk: Chunk) -> Chunk:
        frame = chunk.frame
        for lookup in self._lookups:
            spec = lookup.spec
            if spec.on not in frame.columns:
                raise ConfigError(f"join with {lookup.label}: the rows have no column "
                                  f"{spec.on!r} (columns: {list(frame.columns)})")
            clash = set(lookup.table.columns) & set(frame.columns)
            if clash:
                raise ConfigError(f"join with {lookup.label}: columns {sorted(clash)} exist on "
                                  "both sides; set `prefix` on the join or `drop` them")
            keys = clean_text(frame[spec.on].astype("str").where(frame[spec.on].notna()),
                              (*spec.source.null_values, ""))
            joined = lookup.table.reindex(keys.to_numpy(dtype=object))
            joined.index = frame.index
            self._reject(chunk, frame, keys, lookup)
            frame = pd.concat([frame, joined], axis=1)
        chunk.frame = frame
        return chunk

    @staticmethod
    def _reject(chunk: Chunk, frame: pd.DataFrame, keys: pd.Series, lookup: _Lookup) -> None:
        spec = lookup.spec
        missing = keys.isna().to_numpy(bool)
        known = keys.isin(lookup.table.index).to_numpy(bool)
        ambiguous = keys.isin(list(lookup.duplicated)).to_numpy(bool)
        for pos in np.flatnonzero(missing | ambiguous | (~known & spec.required)):
            key = keys.iat[int(pos)]
            if missing[pos]:
                if not spec.required:
                    continue
                reason = f"missing {spec.on} (needed to join {lookup.label})"
            elif ambiguous[pos]:
                rows = ", ".join(map(str, lookup.duplicated[str(key)][:5]))
                reason = (f"{spec.on} {key!r} appears more than once in {lookup.label} "
                          f"(rows {rows})")
            else:
                reason = f"no {spec.key} {key!r} in {lookup.label}"
            raw: dict[str, object] = {str(k): (None if pd.isna(v) else str(v))
                   for k, v in frame.iloc[int(pos)].items()}
            chunk.errors.add(int(chunk.row_numbers[int(pos)]), spec.on, reason, raw)
