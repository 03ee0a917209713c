"""A worker's buffer of exposures, written to the store in batches (never on the request path).

Serving adds one row per list served under an experiment (a list append, no I/O, so the API
can answer a fresh precomputed list on the event loop); a daemon thread writes the buffer
every ``FLUSH_S`` seconds, or sooner once it holds ``FLUSH_ROWS``. A clean shutdown flushes
(:meth:`ExposureLog.close`); a crash loses at most the last ``FLUSH_S`` seconds of exposures.
"""

from __future__ import annotations

import logging
import threading
from typing import Protocol

from tailorcrm.errors import TailorCRMError
from tailorcrm.store import Store
from tailorcrm.store.experiments import ExposureRow

log = logging.getLogger(__name__)

FLUSH_S = 1.0
FLUSH_ROWS = 500
MAX_ROWS = 200_000  # beyond this (the store unreachable for long) the oldest rows are dropped


class ExposureSink(Protocol):
    """Where serving puts an exposure."""

    def add(self, row: ExposureRow) -> None: ...


class ExposureLog:
    """Buffered exposures of one worker, flushed by a background thread."""

    def __init__(self, store: Store, *, flush_s: float = FLUSH_S) -> None:
        self._store = store
        self._flush_s = flush_s
        self._rows: list[ExposureRow] = []
        self._lock = threading.Lock()
        self._write = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def add(self, row: ExposureRow) -> None:
        """Buffer one exposure (starts the flusher on first use)."""
        with self._lock:
            self._rows.append(row)
            if len(self._rows) > MAX_ROWS:
                del self._rows[: len(self._rows) - MAX_ROWS]
            full = len(self._rows) >= FLUSH_ROWS
            if self._thread is None and not self._stop.is_set():
                self._thread = threading.Thread(target=self._run, name="exposure-log",
                                                daemon=True)
                self._thread.start()
        if full:
            self._wake.set()

    def __len__(self) -> int:
        return len(self._rows)

    def flush(self) -> int:
        """Write every buffered exposure now; returns how many were written."""
        with self._write:
            with self._lock:
                rows, self._rows = self._rows, []
            if not rows:
                return 0
            try:
                return self._store.experiments.record(rows)
            except TailorCRMError:
                with self._lock:  # keep them for the next attempt
                    self._rows[:0] = rows
                raise

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self._flush_s)
            self._wake.clear()
            try:
                self.flush()
            except Exception:
                log.exception("could not write %d experiment exposures; retrying", len(self))

    def close(self) -> None:
        """Stop the flusher and write what is left."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self.flush()
