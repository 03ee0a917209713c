"""Idempotency keys of events that carry none: a deterministic hash of the source row's content.

The key is BLAKE2b (128 bits) of the row's raw source bytes (the CSV or JSONL line, without its
line ending; for Parquet, the row's values joined by a unit separator), never of its row number.
So importing the same file again, or the same rows in another order or another file, yields the
same keys, and the store's ``ON CONFLICT DO NOTHING`` drops them. With 128 bits a collision
among even 10^12 rows is out of reach.

Consequence, chosen on purpose and documented in ``docs/ingest.md``: two byte-identical source
rows are one event (the second counts as a duplicate) unless the mapping sets
``keep_identical_rows = true``; then the n-th repeat of a row within one import gets the suffix
``#n`` (n >= 1) and every copy is kept, still idempotently.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from tailorcrm.ingest.chunks import Chunk

KEY_PREFIX = "h1:"


def _joined_values(frame: pd.DataFrame) -> list[bytes]:
    """Each row's values as text joined by U+001F (for sources without raw lines)."""
    if frame.empty:
        return [b""] * len(frame)
    columns = [pc.fill_null(pc.cast(pa.array(frame[c].astype("str"), from_pandas=True),
                                    pa.string()), "\x00") for c in frame.columns]
    joined = pc.binary_join_element_wise(*columns, "\x1f")
    return [s.encode() for s in joined.to_pylist()]


def content_hashes(chunk: Chunk) -> list[str]:
    """``h1:`` + 32 hex digits per frame row of ``chunk``."""
    raw = chunk.lines if chunk.lines is not None else _joined_values(chunk.frame)
    blake = hashlib.blake2b
    digests = b"".join([blake(line, digest_size=16).digest() for line in raw])
    # hex-encode all digests at once, then cut: much cheaper than one hexdigest() per row
    hexed = digests.hex()
    return [KEY_PREFIX + hexed[i:i + 32] for i in range(0, len(hexed), 32)]


class OccurrenceCounter:
    """Numbers identical rows across the chunks of one import (for ``keep_identical_rows``)."""

    def __init__(self) -> None:
        self._seen = pd.Series(dtype="int64")

    def suffixed(self, keys: list[str]) -> list[str]:
        """Keys with ``#n`` appended to the n-th repeat (n >= 1) of a key in this import."""
        series = pd.Series(keys, dtype=object)
        prior = series.map(self._seen).fillna(0).astype("int64")
        occurrence = series.groupby(series, sort=False).cumcount() + prior
        self._seen = self._seen.add(series.value_counts(), fill_value=0).astype("int64")
        suffix = np.where(occurrence > 0, "#" + occurrence.astype(str), "")
        return (series + suffix).tolist()  # type: ignore[no-any-return]
