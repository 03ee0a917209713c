"""Export of quarantined rows (one import's, or a tenant's) to CSV or JSON Lines.

A reason given for a field flagged ``pii`` describes the problem without quoting the value
(:func:`pii_safe_reasons`); the raw source row stays as it was read, for the tenant to fix.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tailorcrm.store import Store

COLUMNS = ("import_id", "entity", "row_number", "field", "reason", "raw")
PII_REASON = "the value does not fit the field's type (pii field: the value is not shown)"


def pii_safe_reason(reason: str) -> str:
    """A reason without its quoted values (``'x' is not a number`` -> ``is not a number``),
    for a pii field."""
    words = [w for w in reason.split() if not w.startswith(("'", '"', "b'"))]
    kept = " ".join(words).strip()
    return f"{kept} (pii field: the value is not shown)" if kept else PII_REASON


def pii_safe_reasons(fields: Sequence[str], reasons: Sequence[str],
                     pii_fields: Iterable[str]) -> list[str]:
    """``reasons`` (one per rejected ``fields`` entry) with those of pii fields redacted.

    The import may call it on a chunk's quarantine batch before writing it, so that the
    stored reason never quotes a pii value either.
    """
    pii = frozenset(pii_fields)
    return [pii_safe_reason(r) if f in pii else r for f, r in zip(fields, reasons, strict=True)]


def export_quarantine(store: Store, tid: int, path: Path,
                      import_id: int | None = None) -> int:
    """Write quarantined rows to ``path`` (``.jsonl``/``.ndjson``: JSON Lines, else CSV).

    Rows come in source order (row number, then field). In CSV the ``raw`` values are one JSON
    text per row. Reasons of pii fields are redacted. Returns the number of rows written.
    """
    as_jsonl = path.suffix.lower() in (".jsonl", ".ndjson")
    pii = {f.name for f in store.fields.list(tid) if f.pii}
    count = 0
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = None if as_jsonl else csv.writer(out)
        if writer is not None:
            writer.writerow(COLUMNS)
        for row in store.imports.each_quarantined(tid, import_id):
            record = dict(zip(COLUMNS, row, strict=True))
            if record["field"] in pii:
                record["reason"] = pii_safe_reason(str(record["reason"]))
            if writer is None:
                out.write(json.dumps(record, ensure_ascii=False, default=str) + "\n")
            else:
                record["raw"] = json.dumps(record["raw"], ensure_ascii=False, default=str)
                writer.writerow([record[c] for c in COLUMNS])
            count += 1
    return count
