"""The import's prefetch stage: order, bounded look-ahead, errors raised where they occur."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from tailorcrm.ingest.prefetch import prefetched


def test_pairs_come_in_order_with_their_results() -> None:
    assert list(prefetched(range(6), lambda x: x * x)) == [(i, i * i) for i in range(6)]


def test_the_worker_reads_at_most_depth_items_ahead_of_the_consumer() -> None:
    taken: list[int] = []
    lock = threading.Lock()

    def source() -> Iterator[int]:
        for i in range(10):
            with lock:
                taken.append(i)
            yield i

    gen = prefetched(source(), lambda x: x, depth=1)
    first = next(gen)
    assert first == (0, 0)
    threading.Event().wait(0.2)  # give the worker time to run ahead as far as it may
    with lock:
        assert len(taken) <= 2  # the item handed out and one ahead
    gen.close()


def test_an_error_in_the_worker_is_raised_in_order() -> None:
    def work(x: int) -> int:
        if x == 3:
            raise ValueError("bad chunk 3")
        return x

    seen = []
    with pytest.raises(ValueError, match="bad chunk 3"):
        for item, _ in prefetched(range(10), work):
            seen.append(item)
    assert seen == [0, 1, 2]


def test_closing_early_stops_the_worker() -> None:
    gen = prefetched(iter(range(1_000_000)), lambda x: x)
    next(gen)
    gen.close()
    assert not [t for t in threading.enumerate() if t.name == "import-prefetch"]
