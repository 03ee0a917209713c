"""Readers of every source format (CSV, JSONL, Parquet), streamed in chunks of rows."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from tailorcrm.errors import ConfigError, ValidationError
from tailorcrm.ingest.chunks import Chunk, ProgressFn, RowErrors
from tailorcrm.ingest.csv_reader import open_binary, read_csv_chunks
from tailorcrm.ingest.mapping import SourceSpec

_JSONL = (".jsonl", ".ndjson", ".json")


def source_format(path: Path, source: SourceSpec) -> str:
    """``csv``, ``jsonl`` or ``parquet``: the mapping's choice, or the file's extension."""
    if source.format != "auto":
        return source.format
    suffixes = [s.lower() for s in path.suffixes if s.lower() != ".gz"]
    last = suffixes[-1] if suffixes else ""
    if last in (".parquet", ".pq"):
        return "parquet"
    if last in _JSONL:
        return "jsonl"
    return "csv"


def check_not_empty(path: Path) -> None:
    """Raise ValidationError for a missing or 0-byte file, before anything is written."""
    if not path.is_file():
        raise ValidationError(f"no such file: {path}", row=0)
    if path.stat().st_size == 0:
        raise ValidationError(f"{path} is empty (0 bytes): nothing was imported", row=0)


def _read_jsonl(path: Path, source: SourceSpec, chunk_rows: int,
                on_progress: ProgressFn | None) -> Iterator[Chunk]:
    """JSON Lines: one object per line; a line that is not an object is a row error."""
    stream, raw = open_binary(path)
    with raw, stream:
        records: list[dict[str, object]] = []
        numbers: list[int] = []
        lines: list[bytes] = []
        errors, blank, unparsed = RowErrors(), 0, 0
        row = 0
        for row, line in enumerate(stream, start=1):
            try:
                text = line.decode(source.encoding).strip()
            except UnicodeDecodeError as exc:
                errors.add(row, "_row", f"undecodable bytes {line[exc.start:exc.end]!r} for "
                           f"encoding {source.encoding}", {"_line": line.decode(
                               source.encoding, "backslashreplace")})
                unparsed += 1
                continue
            if not text:
                blank += 1
                continue
            try:
                value = json.loads(text)
                if not isinstance(value, dict):
                    raise ValueError(f"a JSON {type(value).__name__}, not an object")
            except ValueError as exc:
                errors.add(row, "_row", f"not a JSON object: {exc}", {"_line": text[:1000]})
                unparsed += 1
                continue
            records.append(value)
            numbers.append(row)
            lines.append(text.encode())
            if len(records) >= chunk_rows:
                yield Chunk(pd.DataFrame.from_records(records), np.asarray(numbers), errors,
                            blank, raw.tell(), unparsed, lines)
                if on_progress is not None:
                    on_progress(raw.tell())
                records, numbers, lines, errors, blank, unparsed = [], [], [], RowErrors(), 0, 0
        if row == 0:
            raise ValidationError(f"{path} holds no lines: nothing was imported", row=0)
        frame = pd.DataFrame.from_records(records) if records else pd.DataFrame()
        if on_progress is not None:
            on_progress(raw.tell())
        yield Chunk(frame, np.asarray(numbers, dtype=np.int64), errors, blank, raw.tell(),
                    unparsed, lines)


def _read_parquet(path: Path, chunk_rows: int,
                  on_progress: ProgressFn | None) -> Iterator[Chunk]:
    """Parquet, in batches of ``chunk_rows``; values keep their Parquet types."""
    try:
        parquet = pq.ParquetFile(path)
    except Exception as exc:  # pyarrow raises several types for a corrupt file
        raise ValidationError(f"{path} is not a readable Parquet file: {exc}", row=0) from exc
    size = path.stat().st_size
    total = max(parquet.metadata.num_rows, 1)
    done = 0
    for batch in parquet.iter_batches(batch_size=chunk_rows):
        frame = batch.to_pandas()
        numbers = np.arange(done + 1, done + len(frame) + 1)
        done += len(frame)
        if on_progress is not None:
            on_progress(int(size * done / total))
        yield Chunk(frame, numbers, bytes_done=int(size * done / total))


def read_chunks(path: Path, source: SourceSpec, chunk_rows: int,
                on_progress: ProgressFn | None = None) -> Iterator[Chunk]:
    """Chunks of at most ``chunk_rows`` source rows of ``path``, in file order.

    Raises
    ------
    ValidationError
        For a missing or empty file (before anything is read).
    ConfigError
        For an unusable encoding.
    """
    check_not_empty(path)
    fmt = source_format(path, source)
    if fmt == "csv":
        return read_csv_chunks(path, source, chunk_rows, on_progress)
    if fmt == "jsonl":
        return _read_jsonl(path, source, chunk_rows, on_progress)
    if fmt == "parquet":
        return _read_parquet(path, chunk_rows, on_progress)
    raise ConfigError(f"unknown source format {fmt!r}")  # pragma: no cover - Literal
