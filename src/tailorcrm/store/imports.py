"""Import runs and their quarantine: what each import read, loaded and rejected, and why."""

from __future__ import annotations

import builtins
import csv
import datetime as dt
import json
import math
import os
import socket
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Row, insert, select, update

from tailorcrm.errors import NotFoundError, ValidationError
from tailorcrm.store.base import Repository, as_utc
from tailorcrm.store.tables import ImportRun, QuarantineRow, utcnow


class ImportRecord(BaseModel):
    """One import run."""

    model_config = ConfigDict(extra="forbid")

    id: int
    entity: str
    source: str
    started_at: dt.datetime | None = None
    finished_at: dt.datetime | None = None
    rows_read: int = 0
    rows_loaded: int = 0
    rows_rejected: int = 0
    rows_duplicate: int = 0
    report: dict[str, Any] = Field(default_factory=dict)


class QuarantineRecord(BaseModel):
    """One rejected source row."""

    model_config = ConfigDict(extra="forbid")

    import_id: int
    entity: str
    row_number: int
    field: str
    reason: str
    raw: dict[str, Any] = Field(default_factory=dict)


def _jsonable(value: Any) -> Any:
    """``value`` as plain JSON (NaN/inf become null, numpy scalars and others their value/text)."""
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if value is None or isinstance(value, str | int | bool):
        return value
    if hasattr(value, "item"):  # numpy / pandas scalars
        return _jsonable(value.item())
    return str(value)


def _alive(pid: int) -> bool:
    """Whether a process of this host with ``pid`` still runs."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, owned by someone else
        return True
    return True


class ImportRepository(Repository):
    """Start and finish import runs; add, list and export their quarantined rows."""

    def start(self, tid: int, entity: str, source: str,
              report: Mapping[str, Any] | None = None) -> int:
        """Record the start of an import (and end runs that died unfinished); returns its id.

        The run remembers which process runs it (host and pid, in its report until it
        finishes), so that a later start can tell a killed import from a running one.
        """
        self.end_interrupted()
        owner = {**(report or {}), "status": "running", "host": socket.gethostname(),
                 "pid": os.getpid()}
        with self._engine.begin() as conn:
            return int(conn.execute(insert(ImportRun).values(
                tenant_id=tid, entity=entity, source=source, report=owner,
            ).returning(ImportRun.id)).scalar_one())

    def fail(self, tid: int, import_id: int, message: str) -> None:
        """Record that an import stopped on an error (what it loaded before stays loaded)."""
        with self._engine.begin() as conn:
            conn.execute(update(ImportRun).where(
                ImportRun.tenant_id == tid, ImportRun.id == import_id,
                ImportRun.finished_at.is_(None),
            ).values(finished_at=utcnow(), report={"status": "failed", "error": message[:2000]}))

    def end_interrupted(self, *, stale_after: dt.timedelta = dt.timedelta(hours=24)) -> int:
        """Mark unfinished runs whose process is gone as failed; returns how many.

        A run of this host whose pid no longer lives, or any run unfinished for longer than
        ``stale_after`` (its host may be another machine), was interrupted (killed, crashed,
        power lost): it gets a finish time and ``status: failed`` in its report. What it had
        loaded stays loaded; re-running the same file is idempotent.
        """
        host = socket.gethostname()
        now = utcnow()
        with self._engine.connect() as conn:
            open_runs = conn.execute(select(ImportRun.id, ImportRun.started_at, ImportRun.report)
                                     .where(ImportRun.finished_at.is_(None))).all()
        dead = []
        for run in open_runs:
            owner = run.report or {}
            started = as_utc(run.started_at)
            mine = owner.get("host") == host and isinstance(owner.get("pid"), int)
            if (mine and not _alive(int(owner["pid"]))) or (
                    started is not None and now - started > stale_after) or not owner:
                dead.append(run.id)
        if not dead:
            return 0
        report = {"status": "failed", "error": "interrupted: the import ended before it "
                                               "finished (process killed or crashed)"}
        with self._engine.begin() as conn:
            conn.execute(update(ImportRun).where(ImportRun.id.in_(dead),
                                                 ImportRun.finished_at.is_(None))
                         .values(finished_at=now, report=report))
        return len(dead)

    def finish(self, tid: int, import_id: int, *, rows_read: int, rows_loaded: int,
               rows_rejected: int, rows_duplicate: int = 0,
               report: Mapping[str, Any] | None = None) -> None:
        """Record the counts and the data-quality report of a finished import."""
        with self._engine.begin() as conn:
            result = conn.execute(update(ImportRun).where(
                ImportRun.tenant_id == tid, ImportRun.id == import_id,
            ).values(finished_at=utcnow(), rows_read=rows_read, rows_loaded=rows_loaded,
                     rows_rejected=rows_rejected, rows_duplicate=rows_duplicate,
                     report=_jsonable({"status": "succeeded", **(report or {})})))
        if not result.rowcount:
            raise NotFoundError(f"no import {import_id}", import_id=import_id)

    def get(self, tid: int, import_id: int) -> ImportRecord:
        """One import run; NotFoundError if the tenant has none with that id."""
        with self._engine.connect() as conn:
            row = conn.execute(select(ImportRun).where(
                ImportRun.tenant_id == tid, ImportRun.id == import_id)).one_or_none()
            if row is None:
                raise NotFoundError(f"no import {import_id}", import_id=import_id)
            return self._record(row)

    def list(self, tid: int, *, limit: int = 50) -> list[ImportRecord]:
        """The tenant's import runs, newest first."""
        with self._engine.connect() as conn:
            rows = conn.execute(select(ImportRun).where(ImportRun.tenant_id == tid)
                                .order_by(ImportRun.id.desc()).limit(limit))
            return [self._record(r) for r in rows]

    def quarantine_rows(self, tid: int, import_id: int,
                        rows: Iterable[Mapping[str, Any]]) -> int:
        """Add rejected rows (``entity``, ``row_number``, ``field``, ``reason``, ``raw``)."""
        records = [{
            "tenant_id": tid, "import_id": import_id, "entity": str(r["entity"]),
            "row_number": int(r["row_number"]), "field": str(r.get("field") or ""),
            "reason": str(r["reason"]), "raw": _jsonable(r.get("raw") or {}),
        } for r in rows]
        if not records:
            return 0
        with self._engine.begin() as conn:
            owner = conn.execute(select(ImportRun.tenant_id).where(
                ImportRun.id == import_id)).scalar_one_or_none()
            if owner != tid:
                raise NotFoundError(f"no import {import_id}", import_id=import_id)
            conn.execute(insert(QuarantineRow), records)
        return len(records)

    def quarantine(self, tid: int, import_id: int | None = None, *,
                   limit: int | None = None) -> builtins.list[QuarantineRecord]:
        """Quarantined rows (of one import, or all), by import then source row number."""
        stmt = select(QuarantineRow).where(QuarantineRow.tenant_id == tid)
        if import_id is not None:
            stmt = stmt.where(QuarantineRow.import_id == import_id)
        stmt = stmt.order_by(QuarantineRow.import_id, QuarantineRow.row_number, QuarantineRow.id)
        if limit is not None:
            stmt = stmt.limit(limit)
        with self._engine.connect() as conn:
            return [QuarantineRecord(import_id=r.import_id, entity=r.entity,
                                     row_number=r.row_number, field=r.field, reason=r.reason,
                                     raw=r.raw or {}) for r in conn.execute(stmt)]

    def each_quarantined(self, tid: int, import_id: int | None = None
                         ) -> Iterator[tuple[int, str, int, str, str, Any]]:
        """``(import_id, entity, row_number, field, reason, raw)`` of quarantined rows (of
        one import, or all), streamed in source order (for exports of any size)."""
        stmt = select(QuarantineRow.import_id, QuarantineRow.entity, QuarantineRow.row_number,
                      QuarantineRow.field, QuarantineRow.reason, QuarantineRow.raw).where(
            QuarantineRow.tenant_id == tid)
        if import_id is not None:
            stmt = stmt.where(QuarantineRow.import_id == import_id)
        stmt = stmt.order_by(QuarantineRow.import_id, QuarantineRow.row_number, QuarantineRow.id)
        with self._engine.connect() as conn:
            for r in conn.execution_options(yield_per=5_000).execute(stmt):
                yield (int(r.import_id), str(r.entity), int(r.row_number), str(r.field),
                       str(r.reason), r.raw)

    def export_quarantine(self, tid: int, path: Path, import_id: int | None = None) -> int:
        """Write quarantined rows to ``path`` (``.csv`` or ``.jsonl``); returns the row count."""
        rows = self.quarantine(tid, import_id)
        if path.suffix == ".jsonl":
            with path.open("w", encoding="utf-8") as fh:
                for r in rows:
                    fh.write(json.dumps(r.model_dump(mode="json"), ensure_ascii=False) + "\n")
        elif path.suffix == ".csv":
            with path.open("w", encoding="utf-8", newline="") as fh:
                writer = csv.writer(fh)
                writer.writerow(["import_id", "entity", "row_number", "field", "reason", "raw"])
                for r in rows:
                    writer.writerow([r.import_id, r.entity, r.row_number, r.field, r.reason,
                                     json.dumps(r.raw, ensure_ascii=False)])
        else:
            raise ValidationError(f"export to .csv or .jsonl, not {path.suffix!r}", path=str(path))
        return len(rows)

    @staticmethod
    def _record(row: Row[Any]) -> ImportRecord:
        return ImportRecord(
            id=row.id, entity=row.entity, source=row.source,
            started_at=as_utc(row.started_at), finished_at=as_utc(row.finished_at),
            rows_read=row.rows_read, rows_loaded=row.rows_loaded,
            rows_rejected=row.rows_rejected, rows_duplicate=row.rows_duplicate,
            report=row.report or {})
