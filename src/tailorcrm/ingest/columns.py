"""Column access for one chunk: trimmed source columns, derived columns, and collected errors."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from tailorcrm.ingest.chunks import Chunk, RowErrors
from tailorcrm.ingest.coerce import Coerced, clean_text, to_number
from tailorcrm.ingest.expr import evaluate, referenced_columns
from tailorcrm.ingest.mapping import Mapping


@dataclass
class ChunkColumns:
    """The columns of one chunk as the cleaning steps see them.

    Source columns are trimmed (and their null values made missing) on first use only;
    derived columns (``[derive]``) are evaluated once. Every problem is recorded with
    ``reject`` and the row is dropped at the end (``bad``).
    """

    chunk: Chunk
    mapping: Mapping
    bad: np.ndarray = field(init=False)
    problems: list[tuple[np.ndarray, str, list[str]]] = field(default_factory=list)
    _text: dict[str, pd.Series] = field(default_factory=dict)
    _derived: dict[str, pd.Series] = field(default_factory=dict)
    _numbers: dict[str, Coerced] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.bad = np.zeros(len(self.chunk.frame), dtype=bool)
        if self.chunk.errors:
            # values that did not decode are in the frame (as missing): their rows are bad
            self.bad |= np.isin(self.chunk.row_numbers, np.asarray(self.chunk.errors.rows))
        for name, expression in self.mapping.derive.items():
            self._derive(name, expression)

    @property
    def index(self) -> pd.Index:
        """The chunk frame's index."""
        return self.chunk.frame.index

    def text(self, name: str) -> pd.Series:
        """A source column, trimmed, with null values missing (a derived column as is)."""
        if name in self._derived:
            return self._derived[name]
        if name not in self._text:
            frame = self.chunk.frame
            if name not in frame:  # a JSON key no line of this chunk has
                self._text[name] = pd.Series(np.nan, index=self.index, dtype="str")
            else:
                self._text[name] = clean_text(frame[name], self.mapping.source.null_values)
        return self._text[name]

    def number(self, name: str, field_name: str) -> pd.Series:
        """A column as float; non-numbers are rejected under ``field_name``."""
        if name in self._derived:
            return self._derived[name]
        if name in self._numbers:  # converted (and its bad values rejected) already
            return self._numbers[name].values
        self._numbers[name] = to_number(self.text(name))
        return self.take(self._numbers[name], name, field_name)

    def take(self, coerced: Coerced, column: str, field_name: str) -> pd.Series:
        """The converted values; rows that did not convert are rejected under ``field_name``."""
        if coerced.bad.any():
            raw = self.text(column) if column in self.chunk.frame or column in self._derived \
                else pd.Series(index=self.index, dtype="str")
            self.reject(coerced.bad, field_name, coerced.reasons(raw))
        return coerced.values

    def reject(self, mask: np.ndarray | pd.Series, field_name: str,
               reasons: str | list[str]) -> None:
        """Reject the rows of ``mask`` with one reason each (or one for all)."""
        mask = np.asarray(mask, dtype=bool)
        if not mask.any():
            return
        count = int(mask.sum())
        self.problems.append((mask, field_name,
                              [reasons] * count if isinstance(reasons, str) else reasons))
        self.bad |= mask

    def _derive(self, name: str, expression: str) -> None:
        inputs = {}
        for column in referenced_columns(expression):
            if column in self._derived:
                inputs[column] = self._derived[column]
                continue
            coerced = self._numbers.get(column) or to_number(self.text(column))
            if column not in self._numbers and coerced.bad.any():
                self.reject(coerced.bad, name, [f"{column}: {r}" for r in
                                                coerced.reasons(self.text(column))])
            self._numbers[column] = coerced
            inputs[column] = coerced.values
        with np.errstate(all="ignore"):
            values = evaluate(expression, inputs)
        infinite = values.notna() & ~np.isfinite(values.fillna(0.0))
        self.reject(infinite.to_numpy(bool), name, f"{expression} is not finite")
        self._derived[name] = values.mask(infinite)

    def errors(self) -> RowErrors:
        """Every problem of this chunk with its row number, field, reason and raw values."""
        out = RowErrors()
        out.extend(self.chunk.errors)
        if not self.problems:
            return out
        frame = self.chunk.frame
        for mask, field_name, reasons in self.problems:
            rows = self.chunk.row_numbers[mask]
            raws: list[dict[str, object]] = frame[mask].astype(object).where(  # type: ignore[assignment]
                frame[mask].notna(), None).to_dict("records")
            for row, reason, raw in zip(rows.tolist(), reasons, raws, strict=True):
                out.add(row, field_name, reason, raw)
        return out

    def rejected_rows(self) -> int:
        """Distinct rows rejected in this chunk, unparsed ones included."""
        return int(self.bad.sum()) + self.chunk.unparsed
