"""Tombstones: an erasure in flight while a job writes cannot be undone by that write, and no
erased id is kept in plain (both backends)."""

from __future__ import annotations

import threading
import time

from sqlalchemy import select

from tailorcrm.store import Store
from tailorcrm.store.erasure import erase_customer
from tailorcrm.store.tables import CustomerTombstone


def test_write_waits_for_an_erasure_in_flight_and_leaves_the_customer_out(
        database_url: str) -> None:
    with Store.open(database_url) as store:
        tid = store.tenants.ensure("acme")
        store.customers.upsert(tid, [{"customer_id": "c1"}, {"customer_id": "c2"}])
        mark = store.tombstones.watermark(tid)  # the job reads its data after this
        hashed = store.tombstones.hasher(tid)("c1")
        stored: list[int] = []
        with store.engine.connect() as conn:
            tx = conn.begin()
            erase_customer(conn, tid, "c1", hashed)  # erased, not yet committed
            writer = threading.Thread(target=lambda: stored.append(store.segments.replace(
                tid, "rfm", {"c1": "champions", "c2": "lost"}, erased_after=mark)))
            writer.start()
            time.sleep(0.5)
            assert writer.is_alive()  # the job's write waits for the erasure ...
            tx.commit()
        writer.join(30)
        assert stored == [1]  # ... then leaves the erased customer out
        assert store.segments.of_customer(tid, "c1") == {}
        assert store.segments.of_customer(tid, "c2") == {"rfm": "lost"}
        # a later job (watermark after the erasure) writes whatever its data holds
        assert store.segments.replace(tid, "rfm", {"c1": "new"},
                                      erased_after=store.tombstones.watermark(tid)) == 1
        with store.engine.connect() as conn:
            assert conn.execute(select(CustomerTombstone.customer_hash)).scalars().all() == [
                hashed]


def test_erasing_nobody_leaves_no_tombstone(database_url: str) -> None:
    with Store.open(database_url) as store:
        tid = store.tenants.ensure("acme")
        assert not any(store.erase_customer(tid, "ghost").values())
        assert store.tombstones.watermark(tid) == 0
        store.customers.upsert(tid, [{"customer_id": "c1"}])
        store.erase_customer(tid, "c1")
        assert store.tombstones.watermark(tid) > 0
        other = store.tenants.ensure("bravo")
        assert store.tombstones.watermark(other) == 0
        assert store.tombstones.hasher(tid)("c1") != store.tombstones.hasher(other)("c1")
