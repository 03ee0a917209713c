"""Overlap an import's stages: read and clean the next chunk in a thread while one is written."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Generic, TypeVar

T = TypeVar("T")
U = TypeVar("U")

#: Chunks read and cleaned ahead of the one being written (each holds one chunk's frames,
#: so an import holds ``DEPTH + 1`` chunks at a time instead of one).
DEPTH = 1


class _Failed(Generic[T]):
    """A stage's exception, handed across the queue to be raised in the consumer."""

    def __init__(self, error: BaseException) -> None:
        self.error = error


_DONE = object()


def prefetched(items: Iterable[T], work: Callable[[T], U], depth: int = DEPTH
               ) -> Iterator[tuple[T, U]]:
    """``(item, work(item))`` in order, computed by one worker thread up to ``depth`` ahead.

    The worker reads ``items`` and calls ``work`` itself, so both run while the consumer
    handles the previous pair (pandas, pyarrow, zlib and SQLite release the GIL in their
    inner loops). An exception in the worker is raised in the consumer at its place in the
    order; closing the iterator early stops the worker after its current item.
    """
    out: queue.Queue[object] = queue.Queue()
    # items taken but not yet finished by the consumer: the one it handles and those ahead
    slots = threading.Semaphore(max(1, depth) + 1)
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in _gated(items, slots, stop):
                out.put((item, work(item)))
        except BaseException as exc:  # handed to the consumer, raised there
            out.put(_Failed(exc))
            return
        out.put(_DONE)

    worker = threading.Thread(target=produce, name="import-prefetch", daemon=True)
    worker.start()
    try:
        while True:
            got = out.get()
            if got is _DONE:
                return
            if isinstance(got, _Failed):
                raise got.error
            yield got  # type: ignore[misc]
            del got
            slots.release()  # the consumer is done with the previous pair
    finally:
        stop.set()
        slots.release()
        worker.join()


def _gated(items: Iterable[T], slots: threading.Semaphore, stop: threading.Event
           ) -> Iterator[T]:
    """``items``, each taken only once a slot is free (bounds the items held at once)."""
    iterator = iter(items)
    while True:
        slots.acquire()
        if stop.is_set():
            return
        try:
            item = next(iterator)
        except StopIteration:
            return
        yield item
