"""Streamed CSV reading (plain or gzip) with per-row errors for broken quoting and bad bytes.

The file is read in blocks of whole lines (``chunk_rows`` lines each, so memory stays bounded);
numpy finds the lines and counts quote characters per line, so that a line with unbalanced
quotes is reported as one bad row instead of swallowing the rest of the file; pyarrow parses the
remaining lines (fast, C++) as bytes; each column is then decoded with the source encoding, and
a value that does not decode is reported with its row and column. A consequence, documented in
``docs/ingest.md``: quoted values may not contain line breaks.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from tailorcrm.errors import ConfigError, ValidationError
from tailorcrm.ingest.chunks import Chunk, ProgressFn, RowErrors
from tailorcrm.ingest.mapping import SourceSpec

READ_BYTES = 1 << 22
_NL, _CR, _QUOTE = 10, 13, 34


def open_binary(path: Path) -> tuple[IO[bytes], IO[bytes]]:
    """The decompressed byte stream of ``path`` and the raw file under it (for progress)."""
    raw: IO[bytes] = path.open("rb")
    if path.suffix == ".gz":
        stream: IO[bytes] = gzip.GzipFile(fileobj=raw, mode="rb")  # type: ignore[assignment]
        return stream, raw
    return raw, raw


def _check_encoding(encoding: str) -> None:
    try:
        codecs.lookup(encoding)
    except LookupError as exc:
        raise ConfigError(f"unknown encoding {encoding!r}") from exc
    if "a,\n\"".encode(encoding, errors="replace") != b"a,\n\"":
        raise ConfigError(f"encoding {encoding!r} is not ASCII-compatible; convert the file "
                          "to UTF-8 first")


def _read_header(stream: IO[bytes], source: SourceSpec) -> tuple[list[str], bytes]:
    """Column names, and the bytes read past the header line."""
    first = stream.read(READ_BYTES)
    if not first:
        raise ValidationError("the file is empty (0 bytes): nothing was imported", row=0)
    if first.startswith(codecs.BOM_UTF8) and source.encoding.lower().replace("_", "-") in (
            "utf-8", "utf8", "utf-8-sig"):
        first = first[len(codecs.BOM_UTF8):]  # spreadsheet exports often start with one
    if not source.header:
        return list(source.columns), first
    while b"\n" not in first:
        more = stream.read(READ_BYTES)
        if not more:
            break
        first += more
    line, _, rest = first.partition(b"\n")
    try:
        text = line.decode(source.encoding).rstrip("\r")
    except UnicodeDecodeError as exc:
        raise ValidationError(f"the header line is not valid {source.encoding}: {exc.reason}",
                              row=0) from exc
    reader = csv.reader([text], delimiter=source.delimiter,
                        quoting=csv.QUOTE_MINIMAL if source.quoting else csv.QUOTE_NONE)
    names = [name.strip() for name in next(reader, [])]
    if not any(names):
        raise ValidationError("the header line is empty", row=0)
    if len(set(names)) != len(names):
        raise ValidationError(f"the header repeats column names: {names}", row=0)
    return names, rest


def _record_ends(arr: np.ndarray, multiline: bool) -> np.ndarray:
    """Positions of the newlines that end a record.

    Without multi-line values every newline does. With them, a newline ends a record only
    outside quotes: where the number of quote characters before it (from the start of ``arr``,
    which is a record boundary) is even; an escaped quote (``""``) counts twice, so it keeps
    the parity, as RFC 4180 intends.
    """
    newlines = np.flatnonzero(arr == _NL)
    if not multiline:
        return newlines
    quotes = np.flatnonzero(arr == _QUOTE)
    return newlines[np.searchsorted(quotes, newlines) % 2 == 0]


def _blocks(stream: IO[bytes], rest: bytes, chunk_rows: int,
            multiline: bool) -> Iterator[bytes]:
    """Blocks of at most ``chunk_rows`` whole records (the last may lack its final newline)."""
    pieces, lines = [rest], rest.count(b"\n")
    eof = False
    while not eof:
        while lines < chunk_rows:
            piece = stream.read(READ_BYTES)
            if not piece:
                eof = True
                break
            pieces.append(piece)
            lines += piece.count(b"\n")
        data = b"".join(pieces)
        if eof:
            if data:
                yield data
            return
        ends = _record_ends(np.frombuffer(data, np.uint8), multiline)
        if not len(ends):  # one record longer than the block: read on
            pieces, lines = [data], 0
            continue
        cut = int(ends[min(chunk_rows, len(ends)) - 1]) + 1
        yield data[:cut]
        pieces = [data[cut:]]
        lines = pieces[0].count(b"\n")


def _decode_column(values: pa.ChunkedArray, name: str, encoding: str, numbers: np.ndarray,
                   errors: RowErrors) -> pa.ChunkedArray | pa.Array:
    """Bytes to text; undecodable values become null and an error naming row and column."""
    if encoding.replace("-", "").replace("_", "").lower() in ("utf8", "ascii"):
        try:
            return pc.cast(values, pa.string())
        except pa.ArrowInvalid:
            pass  # some value is not UTF-8: find which, below
    out: list[str | None] = []
    for i, value in enumerate(values.to_pylist()):
        try:
            out.append(value.decode(encoding))
        except UnicodeDecodeError as exc:
            bad = value[exc.start:exc.end]
            errors.add(int(numbers[i]), name, f"undecodable bytes {bad!r} for encoding "
                       f"{encoding}", {name: value.decode(encoding, errors="backslashreplace")})
            out.append(None)
    return pa.array(out, type=pa.string())


def _parse_lines(body: bytes, names: list[str], source: SourceSpec,
                 on_invalid: Callable[[Any], str]) -> pa.Table:
    """Parse lines as bytes columns; multi-threaded, again single-threaded if a row is invalid.

    pyarrow only knows the line number of an invalid row when it parses on one thread, so the
    fast multi-threaded pass is redone that way in the rare block that has one.
    """
    found: list[int] = []

    def count(_row: Any) -> str:
        found.append(1)
        return "skip"

    def parse(threads: bool, handler: Callable[[Any], str]) -> pa.Table:
        return pacsv.read_csv(
            io.BytesIO(body),
            read_options=pacsv.ReadOptions(column_names=names, use_threads=threads,
                                           block_size=max(len(body) // 2 + 1, 1 << 20)),
            parse_options=pacsv.ParseOptions(
                delimiter=source.delimiter, quote_char='"' if source.quoting else False,
                invalid_row_handler=handler, ignore_empty_lines=False,
                newlines_in_values=source.multiline),
            convert_options=pacsv.ConvertOptions(column_types={n: pa.binary() for n in names}))

    table = parse(True, count)
    return parse(False, on_invalid) if found else table


def _parse_block(block: bytes, first_row: int, names: list[str],
                 source: SourceSpec) -> tuple[Chunk, int]:
    """Parse one block of lines whose first line is data row ``first_row``; also its lines."""
    arr = np.frombuffer(block, np.uint8)
    newlines = _record_ends(arr, source.multiline)
    starts = np.concatenate(([0], newlines + 1))
    ends = np.concatenate((newlines, [len(block)]))
    if len(newlines) and newlines[-1] == len(block) - 1:  # no record after the last end
        starts, ends = starts[:-1], ends[:-1]
    content_end = ends - ((ends > starts) & (arr[np.maximum(ends - 1, 0)] == _CR))
    numbers = first_row + np.arange(len(starts))
    blank = content_end == starts
    errors = RowErrors()
    broken = np.zeros(len(starts), dtype=bool)
    if source.multiline:
        # only a quote left open at the end of the file can break a record here
        if len(starts) and (block[starts[-1]:].count(b'"') % 2 == 1):
            broken[-1] = True
            errors.add(int(numbers[-1]), "_row", "broken quoting: a quoted value runs to the end "
                       "of the file", {"_line": block[starts[-1]:starts[-1] + 1000].decode(
                           source.encoding, "backslashreplace")})
    elif source.quoting:
        quotes = np.flatnonzero(arr == _QUOTE)
        per_line = np.searchsorted(quotes, ends) - np.searchsorted(quotes, starts)
        broken = (per_line % 2 == 1) & ~blank
        for i in np.flatnonzero(broken):
            line = block[starts[i]:content_end[i]].decode(source.encoding, "backslashreplace")
            errors.add(int(numbers[i]), "_row", "broken quoting: unbalanced quote character",
                       {"_line": line})
    keep = ~(blank | broken)
    if keep.all():
        body = block
    else:
        body = b"\n".join(block[s:e] for s, e in zip(starts[keep], ends[keep], strict=True))
    kept_numbers = numbers[keep]
    invalid: list[int] = []

    def on_invalid(row: Any) -> str:
        index = int(row.number) - 1  # 1-based line of ``body`` (parsed single-threaded)
        invalid.append(index)
        errors.add(int(kept_numbers[index]), "_row", f"expected {row.expected_columns} fields, "
                   f"found {row.actual_columns}", {"_line": row.text})
        return "skip"

    table = _parse_lines(body, names, source, on_invalid) if kept_numbers.size else \
        pa.table({n: pa.array([], pa.binary()) for n in names})
    valid = np.ones(len(kept_numbers), dtype=bool)
    valid[invalid] = False
    row_numbers = kept_numbers[valid]
    columns = {n: _decode_column(table.column(n), n, source.encoding, row_numbers, errors)
               for n in names}
    frame = pa.table(columns).to_pandas()
    line_at = np.flatnonzero(keep)[valid]
    lines = [block[s:e] for s, e in zip(starts[line_at].tolist(), content_end[line_at].tolist(),
                                        strict=True)]
    chunk = Chunk(frame=frame, row_numbers=row_numbers, errors=errors,
                  blank_lines=int(blank.sum()), unparsed=int(broken.sum()) + len(invalid),
                  lines=lines)
    return chunk, len(starts)


def read_csv_chunks(path: Path, source: SourceSpec, chunk_rows: int,
                    on_progress: ProgressFn | None = None) -> Iterator[Chunk]:
    """Yield the rows of a CSV file (plain or ``.gz``) in chunks of at most ``chunk_rows``."""
    _check_encoding(source.encoding)
    stream, raw = open_binary(path)
    with raw, stream:
        names, rest = _read_header(stream, source)
        next_row = 1
        for block in _blocks(stream, rest, chunk_rows, source.multiline and source.quoting):
            chunk, n_lines = _parse_block(block, next_row, names, source)
            next_row += n_lines
            chunk.bytes_done = raw.tell()
            if on_progress is not None:
                on_progress(chunk.bytes_done)
            yield chunk


def empty_frame(names: list[str]) -> pd.DataFrame:
    """A frame with no rows and text columns ``names``."""
    return pd.DataFrame({n: pd.Series([], dtype="str") for n in names})
