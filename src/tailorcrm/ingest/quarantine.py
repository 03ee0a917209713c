"""Export of quarantined rows (one import's, or a tenant's) to CSV or JSON Lines."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tailorcrm.store import Store

COLUMNS = ("import_id", "entity", "row_number", "field", "reason", "raw")


def export_quarantine(store: Store, tid: int, path: Path,
                      import_id: int | None = None) -> int:
    """Write quarantined rows to ``path`` (``.jsonl``/``.ndjson``: JSON Lines, else CSV).

    Rows come in source order (row number, then field). In CSV the ``raw`` values are one JSON
    text per row. Returns the number of rows written.
    """
    as_jsonl = path.suffix.lower() in (".jsonl", ".ndjson")
    count = 0
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = None if as_jsonl else csv.writer(out)
        if writer is not None:
            writer.writerow(COLUMNS)
        for row in store.imports.each_quarantined(tid, import_id):
            record = dict(zip(COLUMNS, row, strict=True))
            if writer is None:
                out.write(json.dumps(record, ensure_ascii=False, default=str) + "\n")
            else:
                record["raw"] = json.dumps(record["raw"], ensure_ascii=False, default=str)
                writer.writerow([record[c] for c in COLUMNS])
            count += 1
    return count
