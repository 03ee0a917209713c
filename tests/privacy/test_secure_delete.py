"""SQLite: every connection deletes securely and an erasure leaves no copy in the WAL; without
``secure_delete`` the same deletion would leave the bytes in the file (the check can fail)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from tailorcrm.privacy.erasure import erase
from tailorcrm.schema.fields import FieldSpec, FieldType
from tailorcrm.store import Store

EMAIL = "unique.person.4711@example.org"


def _plant(store: Store) -> int:
    tid = store.tenants.ensure("acme")
    store.fields.add(tid, FieldSpec(entity="customer", name="email", type=FieldType.STRING,
                                    pii=True))
    store.customers.upsert(tid, [{"customer_id": f"k{i}", "email": f"other{i}@example.org"}
                                 for i in range(50)] + [{"customer_id": "zq-erased-77",
                                                         "email": EMAIL}])
    return tid


def _files(db: Path) -> bytes:
    return b"".join(p.read_bytes() for p in (db, Path(f"{db}-wal")) if p.is_file())


def test_erasure_leaves_no_bytes_in_the_database_file_or_wal(tmp_path: Path) -> None:
    db = tmp_path / "t.db"
    with Store.open(f"sqlite:///{db}") as store:
        with store.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA secure_delete").scalar() == 1
        tid = _plant(store)
        assert EMAIL.encode() in _files(db)
        erase(store, tid, "zq-erased-77", "cli")
        assert EMAIL.encode() not in _files(db)
        assert b"zq-erased-77" not in _files(db)
        assert not Path(f"{db}-wal").is_file() or Path(f"{db}-wal").stat().st_size == 0
        assert len(store.customers.list(tid)) == 50


def test_without_secure_delete_the_bytes_would_remain(tmp_path: Path) -> None:
    db = tmp_path / "t.db"
    with Store.open(f"sqlite:///{db}") as store:
        _plant(store)
    raw = sqlite3.connect(db)
    raw.execute("PRAGMA secure_delete=OFF")
    raw.execute("DELETE FROM customers WHERE customer_id = 'zq-erased-77'")
    raw.commit()
    raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    raw.close()
    assert EMAIL.encode() in db.read_bytes()
