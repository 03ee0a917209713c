"""The streamed CSV reader: row numbers, chunk boundaries, gzip, quoting and field counts."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest

from tailorcrm.errors import ConfigError, ValidationError
from tailorcrm.ingest.csv_reader import read_csv_chunks
from tailorcrm.ingest.mapping import SourceSpec


def _read(path: Path, chunk_rows: int, **source: object) -> tuple[list[list[str]], list[int],
                                                                  list[tuple[int, str, str]]]:
    values, numbers, errors = [], [], []
    for chunk in read_csv_chunks(path, SourceSpec(**source), chunk_rows):  # type: ignore[arg-type]
        values += chunk.frame.astype(object).values.tolist()
        numbers += chunk.row_numbers.tolist()
        errors += list(zip(chunk.errors.rows, chunk.errors.fields, chunk.errors.reasons,
                           strict=True))
    return values, numbers, errors


@pytest.mark.parametrize("chunk_rows", [1, 2, 3, 100])
def test_row_numbers_are_stable_across_chunk_sizes(tmp_path: Path, chunk_rows: int) -> None:
    path = tmp_path / "f.csv.gz"
    text = 'a,b\r\n1,x\r\n\r\n2,"y, z"\r\n3,"bad\r\n4,w,extra\r\n5,"q ""u"""'  # no final newline
    path.write_bytes(gzip.compress(text.encode()))
    values, numbers, errors = _read(path, chunk_rows)
    assert numbers == [1, 3, 6]
    assert values == [["1", "x"], ["2", "y, z"], ["5", 'q "u"']]
    assert [(r, f) for r, f, _ in errors] == [(4, "_row"), (5, "_row")]
    assert "broken quoting" in errors[0][2] and "expected 2 fields, found 3" in errors[1][2]


def test_headerless_tab_file_without_quoting(tmp_path: Path) -> None:
    path = tmp_path / "u.data"
    path.write_text('1\t"2\t3\n4\t5\t6\n')
    values, numbers, errors = _read(path, 10, delimiter="\t", quoting=False, header=False,
                                    columns=("a", "b", "c"))
    assert values == [["1", '"2', "3"], ["4", "5", "6"]] and numbers == [1, 2] and not errors


def test_latin1_and_undecodable_values(tmp_path: Path) -> None:
    path = tmp_path / "f.csv"
    path.write_bytes(b"t\ncaf\xe9\n")
    assert _read(path, 10, encoding="latin-1")[0] == [["café"]]
    values, numbers, errors = _read(path, 10)
    assert numbers == [1] and errors[0][:2] == (1, "t") and "\\xe9" in errors[0][2]
    assert np.isnan(values[0][0])


def test_empty_and_unusable_encodings(tmp_path: Path) -> None:
    empty = tmp_path / "empty.csv.gz"
    empty.write_bytes(gzip.compress(b""))
    with pytest.raises(ValidationError, match="empty"):
        list(read_csv_chunks(empty, SourceSpec(), 10))
    path = tmp_path / "f.csv"
    path.write_text("a\n1\n")
    with pytest.raises(ConfigError, match="ASCII-compatible"):
        list(read_csv_chunks(path, SourceSpec(encoding="utf-16"), 10))
    with pytest.raises(ConfigError, match="unknown encoding"):
        list(read_csv_chunks(path, SourceSpec(encoding="klingon"), 10))


def test_utf8_byte_order_mark_is_not_part_of_the_header(tmp_path: Path) -> None:
    path = tmp_path / "excel.csv"
    path.write_bytes(b"\xef\xbb\xbfcustomer_id,name\nc1,Ann\n")
    chunk = next(read_csv_chunks(path, SourceSpec(), 10))
    assert list(chunk.frame.columns) == ["customer_id", "name"]


@pytest.mark.parametrize("chunk_rows", [1, 2, 100])
def test_multiline_values_are_records(tmp_path: Path, chunk_rows: int) -> None:
    path = tmp_path / "notes.csv"
    path.write_text('id,note\n1,"first line\nsecond ""quoted"" line"\n2,plain\n\n'
                    '3,"a\r\nb"\n4,"never closed\n5,lost\n')
    values, numbers, errors = _read(path, chunk_rows, multiline=True)
    assert values == [["1", 'first line\nsecond "quoted" line'], ["2", "plain"],
                      ["3", "a\r\nb"]]
    assert numbers == [1, 2, 4]  # records, not lines; the blank line is record 3
    assert [(r, f) for r, f, _ in errors] == [(5, "_row")]  # swallows "5,lost" too
    assert "end of the file" in errors[0][2]
