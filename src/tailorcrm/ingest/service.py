"""Run one import: read chunks, clean them, write them in bulk, quarantine bad rows, report.

Each chunk is written in its own transaction (created customers and items, then the rows, then
the chunk's quarantined rows), so good rows always land and a failure loses at most the chunk
being written; re-running the import then completes it, since every write is idempotent.
"""

from __future__ import annotations

import datetime as dt
import itertools
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tailorcrm.errors import ConfigError
from tailorcrm.ingest.chunks import Chunk, ProgressFn
from tailorcrm.ingest.clean import CleanChunk, Cleaner, used_columns
from tailorcrm.ingest.defaults import default_mapping
from tailorcrm.ingest.joins import Joiner
from tailorcrm.ingest.mapping import ImportEntity, Mapping
from tailorcrm.ingest.quality import QualityReport, QualityTracker
from tailorcrm.ingest.quarantine import pii_safe_reasons
from tailorcrm.ingest.readers import check_not_empty, read_chunks, source_format
from tailorcrm.schema.fields import FieldSpec
from tailorcrm.store import Store
from tailorcrm.store.loading import QuarantineBatch
from tailorcrm.store.tables import utcnow
from tailorcrm.store.tombstones import SUPPRESSED_REASON

log = logging.getLogger(__name__)

#: An events import of at least this many rows (estimated from the first chunk), and more than
#: are stored, is a bulk load: SQLite builds the secondary indexes once at the end.
BULK_LOAD_ROWS = 200_000


@dataclass(frozen=True)
class ImportResult:
    """The id of the import run (its quarantine rows carry it) and its quality report."""

    import_id: int
    report: QualityReport


def _ensure_fields(store: Store, tid: int, mapping: Mapping) -> dict[str, FieldSpec]:
    """The tenant's spec of every field the mapping declares, creating missing ones."""
    specs: dict[str, FieldSpec] = {}
    existing = {(f.entity, f.name): f for f in store.fields.list(tid)}
    for wanted in mapping.field_specs():
        have = existing.get((wanted.entity, wanted.name))
        if have is None:
            store.fields.add(tid, wanted)
            log.info("created %s field %s (%s)", wanted.entity, wanted.name, wanted.type)
            have = wanted
        elif have.type is not wanted.type or have.enum_values != wanted.enum_values:
            def show(spec: FieldSpec) -> str:
                return f"{spec.type}{list(spec.enum_values) if spec.enum_values else ''}"

            raise ConfigError(
                f"the mapping declares {wanted.entity} field {wanted.name!r} as {show(wanted)}, "
                f"but the tenant has it as {show(have)}; change the field or the mapping",
                field=wanted.name)
        specs[wanted.name] = have
    return specs


def _first_chunk(chunks: Iterator[Chunk], path: Path, mapping: Mapping) -> Iterator[Chunk]:
    """Check the mapping's columns against the first chunk, then yield every chunk."""
    first = next(chunks, None)
    if first is None:
        return
    if source_format(path, mapping.source) != "jsonl":
        missing = sorted(used_columns(mapping) - set(first.frame.columns))
        if missing:
            raise ConfigError(f"columns {missing} of mapping {mapping.name!r} are not in "
                              f"{path.name} (columns: {list(first.frame.columns)})")
    yield from itertools.chain([first], chunks)


def _write(store: Store, tid: int, import_id: int, mapping: Mapping, clean: CleanChunk) -> int:
    """Write one cleaned chunk in one transaction; returns rows inserted or changed."""
    e = clean.errors
    reasons = e.reasons
    if len(e):  # a stored reason never quotes a pii value (it is described instead)
        pii = [f.name for f in store.fields.list(tid, mapping.entity.rstrip("s")) if f.pii]
        if pii:
            reasons = pii_safe_reasons(e.fields, e.reasons, pii)
    return store.loading.write_chunk(
        tid, import_id, mapping.entity, clean.rows, customers=clean.customers,
        items=clean.items, quarantine=QuarantineBatch(e.rows, e.fields, reasons, e.raw)
        if len(e) else None)


def _is_bulk_load(store: Store, entity: str, path: Path, first: Chunk | None) -> bool:
    """Whether an events import is big next to the events stored (see deferred indexes)."""
    if entity != "events" or first is None or not first.bytes_done or not len(first.frame):
        return False
    estimate = path.stat().st_size / first.bytes_done * len(first.frame)
    return estimate >= BULK_LOAD_ROWS and estimate > store.loading.stored_event_bound()


SUPPRESSED = SUPPRESSED_REASON


def _suppress_erased(store: Store, tid: int, mapping: Mapping, clean: CleanChunk) -> int:
    """Drop the rows of erased customers from a cleaned chunk; returns how many rows.

    An old file re-imported must not bring an erased customer back. Their rows are counted
    as rejected (field ``customer_id``, :data:`SUPPRESSED`) but not quarantined: the
    quarantine would keep the personal data that the erasure removed. Their rows rejected
    for another reason are kept out of the quarantine too.
    """
    if mapping.entity == "items" or not store.tombstones.any(tid):
        return 0
    ids = clean.rows["customer_id"]
    column = mapping.fields.get("customer_id")
    bad_ids = {str(raw.get(column)).strip() for raw in clean.errors.raw
               if column and raw.get(column) is not None}
    erased = store.tombstones.erased_among(
        tid, {*ids.dropna().astype(str).unique(), *bad_ids})
    if not erased:
        return 0
    _drop_erased_problems(clean, erased)
    drop = ids.isin(list(erased)).to_numpy(bool)
    clean.rows = clean.rows[~drop].reset_index(drop=True)
    if clean.customers is not None:
        clean.customers = clean.customers[
            ~clean.customers["customer_id"].isin(list(erased))].reset_index(drop=True)
    return int(drop.sum())


def _erase_again_if_erased_meanwhile(store: Store, tid: int, clean: CleanChunk,
                                     mark: int) -> int:
    """Erase again the customers of a written chunk who were erased between the chunk's
    suppression check and its write (``mark``: the tombstone watermark taken before the
    check), so that an import running during an erasure cannot bring them back. Returns
    how many customers were erased again."""
    erased = store.tombstones.erased_since(tid, mark)
    if not erased or not len(clean.rows):
        return 0
    hasher = store.tombstones.hasher(tid)
    ids = {str(c) for c in clean.rows["customer_id"].dropna().unique()}
    again = sorted(c for c in ids if hasher(c) in erased)
    for customer_id in again:
        store.erase_customer(tid, customer_id)
    return len(again)


def _drop_erased_problems(clean: CleanChunk, erased: set[str]) -> None:
    """Keep rows of erased customers rejected for another reason out of the quarantine
    (their raw values are the personal data the erasure removed)."""
    e = clean.errors
    keep = [i for i, raw in enumerate(e.raw)
            if not any(str(v).strip() in erased for v in raw.values() if v is not None)]
    if len(keep) == len(e.raw):
        return
    e.rows, e.fields = [e.rows[i] for i in keep], [e.fields[i] for i in keep]
    e.reasons, e.raw = [e.reasons[i] for i in keep], [e.raw[i] for i in keep]


def _import_chunk(store: Store, tid: int, import_id: int, mapping: Mapping, cleaner: Cleaner,
                  tracker: QualityTracker, chunk: Chunk) -> None:
    """Clean, write and count one chunk."""
    clean = cleaner.clean(chunk)
    mark = store.tombstones.watermark(tid) if mapping.entity != "items" else None
    suppressed = _suppress_erased(store, tid, mapping, clean)
    changed = _write(store, tid, import_id, mapping, clean)
    if mark is not None:
        _erase_again_if_erased_meanwhile(store, tid, clean, mark)
    valid = len(clean.rows)
    c = tracker.counts
    c["rows_read"] += len(chunk.frame) + chunk.unparsed
    c["rows_loaded"] += changed
    c["rows_duplicate"] += valid - changed
    c["rows_rejected"] += clean.rejected + suppressed
    if suppressed:
        tracker.add_errors(["customer_id"] * suppressed, [SUPPRESSED] * suppressed)
    c["blank_lines"] += chunk.blank_lines
    c.update(clean.counters)
    tracker.nulls.update(clean.column_nulls)
    tracker.add_errors(clean.errors.fields, clean.errors.reasons)
    if mapping.entity == "events":
        tracker.add_customers(clean.rows["customer_id"])
    log.debug("chunk: %d rows, %d loaded, %d rejected", len(chunk.frame), changed,
              clean.rejected)


def run_import(store: Store, tid: int, entity: ImportEntity, path: Path,
               mapping: Mapping | None = None, *, chunk_rows: int = 100_000,
               on_progress: ProgressFn | None = None,
               now: dt.datetime | None = None) -> ImportResult:
    """Import ``path`` into tenant ``tid`` as ``entity`` rows.

    Parameters
    ----------
    store, tid:
        The store and tenant to import into.
    entity:
        ``customers``, ``items`` or ``events``; must match the mapping's.
    path:
        CSV (plain or ``.gz``), JSONL or Parquet file.
    mapping:
        The mapping; ``None`` maps columns named like tailorcrm fields (see ``defaults.py``).
    chunk_rows:
        Rows per chunk (bounds memory).
    on_progress:
        Called with the source bytes consumed so far.
    now:
        Time that future timestamps are judged against (default: the current time).

    Raises
    ------
    ValidationError
        The file is missing or empty (nothing is written).
    ConfigError
        The mapping does not fit the file or the tenant's fields.
    """
    started = time.perf_counter()
    check_not_empty(path)
    if mapping is None:
        mapping = default_mapping(entity, path, store.fields.list(tid))
    if mapping.entity != entity:
        raise ConfigError(f"mapping {mapping.name!r} imports {mapping.entity}, not {entity}")
    raw_chunks = read_chunks(path, mapping.source, chunk_rows, on_progress)
    if mapping.joins:
        raw_chunks = Joiner(mapping.joins, path).apply(raw_chunks)
    chunks = _first_chunk(raw_chunks, path, mapping)
    first = next(chunks, None)  # reads and checks the header before anything is written
    specs = _ensure_fields(store, tid, mapping)
    cleaner = Cleaner(mapping, specs, store.event_types.names(tid), now or utcnow())
    import_id = store.imports.start(tid, entity, str(path), report={"mapping": mapping.name})
    try:
        return _run(store, tid, import_id, entity, path, mapping, cleaner, chunks, first,
                    started)
    except BaseException as exc:  # the run ends with a state, whatever stopped it
        store.imports.fail(tid, import_id, f"{type(exc).__name__}: {exc}")
        raise


def _run(store: Store, tid: int, import_id: int, entity: str, path: Path, mapping: Mapping,
         cleaner: Cleaner, chunks: Iterator[Chunk], first: Chunk | None,
         started: float) -> ImportResult:
    tracker = QualityTracker(entity, str(path), mapping.name)
    before = {"customers": store.customers.count(tid), "items": store.items.count(tid)}
    if entity == "events":
        store.loading.prepare_events()
    with store.loading.deferred_indexes(_is_bulk_load(store, entity, path, first)):
        for chunk in itertools.chain([first] if first else [], chunks):
            _import_chunk(store, tid, import_id, mapping, cleaner, tracker, chunk)
    tracker.counts["customers_created"] = store.customers.count(tid) - before["customers"]
    tracker.counts["items_created"] = store.items.count(tid) - before["items"]
    anonymous = mapping.anonymous_id if mapping.missing_customer == "anonymous" else None
    report = tracker.report(time.perf_counter() - started, anonymous)
    c = tracker.counts
    store.imports.finish(tid, import_id, rows_read=c["rows_read"], rows_loaded=c["rows_loaded"],
                         rows_rejected=c["rows_rejected"], rows_duplicate=c["rows_duplicate"],
                         report=report.as_dict())
    store.loading.checkpoint()
    log.info("import %d: %d read, %d loaded, %d duplicate, %d rejected in %.1f s", import_id,
             c["rows_read"], c["rows_loaded"], c["rows_duplicate"], c["rows_rejected"],
             report.seconds)
    return ImportResult(import_id=import_id, report=report)
