"""The unit every reader yields: a block of raw source rows with their row numbers and errors."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

#: Called with the number of source bytes consumed so far (for a progress bar).
ProgressFn = Callable[[int], None]


@dataclass
class RowErrors:
    """Row-level problems found in one chunk: parallel lists, one entry per problem.

    Row numbers follow the one convention of every reader: the 1-based number of the data
    record in the source, header excluded (for a CSV or JSONL file without multi-line values,
    row ``N`` is physical line ``N + 1`` with a header and line ``N`` without one).
    """

    rows: list[int] = field(default_factory=list)
    fields: list[str] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)
    raw: list[dict[str, object]] = field(default_factory=list)

    def add(self, row: int, field_name: str, reason: str, raw: dict[str, object]) -> None:
        """Record one problem."""
        self.rows.append(int(row))
        self.fields.append(field_name)
        self.reasons.append(reason)
        self.raw.append(raw)

    def __len__(self) -> int:
        return len(self.rows)

    def extend(self, other: RowErrors) -> None:
        """Append the problems of ``other``."""
        self.rows.extend(other.rows)
        self.fields.extend(other.fields)
        self.reasons.extend(other.reasons)
        self.raw.extend(other.raw)


@dataclass
class Chunk:
    """Raw rows of one block of a source file.

    Attributes
    ----------
    frame:
        One column per source column, values as text (``str`` dtype, missing as NA) or, for
        typed sources (Parquet, JSON), as read.
    row_numbers:
        Source row number of each frame row (see ``RowErrors`` for the convention).
    errors:
        Rows the reader could not parse (broken quoting, wrong field count, bad bytes); they
        are not in ``frame`` except for undecodable values, which are set missing there.
    blank_lines:
        Blank lines skipped in this chunk (not data rows; counted in the report).
    bytes_done:
        Source bytes consumed once this chunk was read.
    unparsed:
        Data rows of this block that could not be parsed at all (in ``errors``, not in ``frame``).
    lines:
        The raw source bytes of each frame row, when the format has them (CSV, JSONL); the
        idempotency hash of a row is taken over them.
    """

    frame: pd.DataFrame
    row_numbers: np.ndarray
    errors: RowErrors = field(default_factory=RowErrors)
    blank_lines: int = 0
    bytes_done: int = 0
    unparsed: int = 0
    lines: list[bytes] | None = None


ChunkIterator = Iterator[Chunk]
