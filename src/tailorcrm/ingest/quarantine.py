"""Export of quarantined rows (one import's, or a tenant's) to CSV or JSON Lines."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from sqlalchemy import Engine, select

from tailorcrm.store.tables import QuarantineRow

COLUMNS = ("import_id", "entity", "row_number", "field", "reason", "raw")


def export_quarantine(engine: Engine, tid: int, path: Path, import_id: int | None = None) -> int:
    """Write quarantined rows to ``path`` (``.jsonl``/``.ndjson``: JSON Lines, else CSV).

    Rows come in source order (row number, then field). In CSV the ``raw`` values are one JSON
    text per row. Returns the number of rows written.
    """
    stmt = select(QuarantineRow.import_id, QuarantineRow.entity, QuarantineRow.row_number,
                  QuarantineRow.field, QuarantineRow.reason, QuarantineRow.raw).where(
        QuarantineRow.tenant_id == tid)
    if import_id is not None:
        stmt = stmt.where(QuarantineRow.import_id == import_id)
    stmt = stmt.order_by(QuarantineRow.import_id, QuarantineRow.row_number, QuarantineRow.id)
    as_jsonl = path.suffix.lower() in (".jsonl", ".ndjson")
    count = 0
    with engine.connect() as conn, path.open("w", encoding="utf-8", newline="") as out:
        writer = None if as_jsonl else csv.writer(out)
        if writer is not None:
            writer.writerow(COLUMNS)
        for row in conn.execute(stmt):
            record = dict(zip(COLUMNS, row, strict=True))
            if writer is None:
                out.write(json.dumps(record, ensure_ascii=False, default=str) + "\n")
            else:
                record["raw"] = json.dumps(record["raw"], ensure_ascii=False, default=str)
                writer.writerow([record[c] for c in COLUMNS])
            count += 1
    return count
