"""Model store contract: registry and artifact files, on SQLite and on PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError

from tailorcrm.data.vocab import Vocabulary
from tailorcrm.errors import ConflictError, NotFoundError, ValidationError
from tailorcrm.store import Store
from tailorcrm.store.model_store import (
    ERASED_PREFIX,
    ModelStore,
    read_vocab,
    save_vocab,
    scrub_vocab,
)
from tailorcrm.store.tables import ModelVersion


@pytest.fixture()
def store(database_url: str, tmp_path: Path) -> Iterator[Store]:
    with Store.open(database_url, artifacts_dir=tmp_path / "artifacts") as s:
        yield s


@pytest.fixture()
def models(store: Store) -> ModelStore:
    return store.model_store


def _data(customers: list[str], items: list[str]) -> Any:
    return SimpleNamespace(customer_vocab=Vocabulary(customers), item_vocab=Vocabulary(items))


def test_the_facade_shares_one_registry(store: Store, tmp_path: Path) -> None:
    assert store.model_store.registry is store.models
    assert store.model_store.root == (tmp_path / "artifacts").resolve()


def test_registry_has_one_active_version(store: Store, models: ModelStore) -> None:
    tid = store.tenants.ensure("acme")
    models.register(tid, "als", "v1", "als", models.artifact_dir(tid, "als", "v1"),
                    {"ndcg": 0.1}, "h1", activate=True)
    models.register(tid, "als", "v2", "als", "artifacts/als/v2", {"ndcg": 0.2}, "h2")
    active = models.active(tid, "als")
    assert active is not None and active.version == "v1" and active.config_hash == "h1"
    assert Path(active.path) == models.root / f"tenant-{tid}" / "als" / "v1"
    models.activate(tid, "als", "v2")
    active = models.active(tid, "als")
    assert active is not None and (active.version, active.metrics) == ("v2", {"ndcg": 0.2})
    assert [m.version for m in models.list(tid, "als") if m.active] == ["v2"]
    assert models.get(tid, "als", "v1").active is False
    with pytest.raises(NotFoundError):
        models.activate(tid, "als", "v9")
    assert models.active(tid, "als").version == "v2"  # type: ignore[union-attr]
    with pytest.raises(ConflictError):
        models.register(tid, "als", "v2", "als", "x")
    # the database itself refuses a second active version
    with pytest.raises(IntegrityError), store.engine.begin() as conn:
        conn.execute(update(ModelVersion).where(ModelVersion.version == "v1").values(active=True))


def test_one_active_per_name(store: Store, models: ModelStore) -> None:
    tid = store.tenants.ensure("acme")
    models.register(tid, "recommender", "v1", "ease", "p1", activate=True)
    models.register(tid, "needs:churn", "v1", "need:gbm", "p2", activate=True)
    assert models.active(tid, "recommender").kind == "ease"  # type: ignore[union-attr]
    assert models.active(tid, "needs:churn").kind == "need:gbm"  # type: ignore[union-attr]
    assert models.active(tid, "nothing") is None
    assert {m.name for m in models.list(tid)} == {"recommender", "needs:churn"}


def test_concurrent_activations_leave_exactly_one_active(store: Store,
                                                         models: ModelStore) -> None:
    tid = store.tenants.ensure("acme")
    versions = [f"v{i}" for i in range(6)]
    for v in versions:
        models.register(tid, "als", v, "als", v)
    errors: list[BaseException] = []

    def flip(v: str) -> None:
        for _ in range(3):
            try:
                models.activate(tid, "als", v)
            except Exception as exc:  # every activation must succeed: no deadlock, no clash
                errors.append(exc)

    threads = [threading.Thread(target=flip, args=(v,)) for v in versions]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len([m for m in models.list(tid, "als") if m.active]) == 1


def test_tenants_are_isolated(store: Store, models: ModelStore) -> None:
    a, b = store.tenants.ensure("alpha"), store.tenants.ensure("beta")
    models.register(a, "als", "v1", "als", models.artifact_dir(a, "als", "v1"), activate=True)
    assert models.active(b, "als") is None and models.list(b) == []
    with pytest.raises(NotFoundError):
        models.get(b, "als", "v1")
    with pytest.raises(NotFoundError):
        models.activate(b, "als", "v1")
    models.register(b, "als", "v1", "als", models.artifact_dir(b, "als", "v1"))  # no conflict
    assert models.active(a, "als").version == "v1"  # type: ignore[union-attr]
    assert models.artifact_dir(a, "als", "v1") != models.artifact_dir(b, "als", "v1")


def test_artifact_dirs_stay_under_the_root(models: ModelStore) -> None:
    path = models.artifact_dir(3, "needs/churn", "20240101T000000Z")
    assert path == models.root / "tenant-3" / "needs" / "churn" / "20240101T000000Z"
    assert not path.exists()  # located, not created
    for name, version in (("../x", "v1"), ("als", ".."), ("/etc", "v1"), ("", "v1"),
                          ("als", "")):
        with pytest.raises(ValidationError):
            models.artifact_dir(1, name, version)


def test_artifact_round_trip(store: Store, models: ModelStore) -> None:
    tid = store.tenants.ensure("acme")
    folder = models.artifact_dir(tid, "recommender", "v1")
    folder.mkdir(parents=True)
    (folder / "model.npz").write_bytes(b"weights")
    save_vocab(folder, _data(["c1", "c2"], ["i1", "i2", "i3"]))
    models.register(tid, "recommender", "v1", "ease", folder, activate=True)
    record = models.active(tid, "recommender")
    assert record is not None
    assert (Path(record.path) / "model.npz").read_bytes() == b"weights"
    assert read_vocab(record.path) == {"customers": ["c1", "c2"], "items": ["i1", "i2", "i3"]}
    assert read_vocab(models.artifact_dir(tid, "recommender", "v9")) is None


def test_vocab_scrub_keeps_indices_aligned(store: Store, models: ModelStore) -> None:
    tid = store.tenants.ensure("acme")
    folder = models.artifact_dir(tid, "recommender", "v1")
    folder.mkdir(parents=True)
    save_vocab(folder, _data(["c1", "c2", "c3"], ["i1"]))
    hasher = store.tombstones.hasher(tid)
    assert scrub_vocab(folder, set(), hasher) == 0
    assert scrub_vocab(folder, {hasher("c2"), hasher("nobody")}, hasher) == 1
    vocab = read_vocab(folder)
    assert vocab is not None
    assert vocab["customers"] == ["c1", f"{ERASED_PREFIX}1", "c3"] and vocab["items"] == ["i1"]
    assert scrub_vocab(folder, {hasher("c2")}, hasher) == 0  # already gone
    assert scrub_vocab(models.artifact_dir(tid, "recommender", "v9"), {hasher("c1")},
                       hasher) == 0  # no vocabulary file: nothing to do
    assert sorted(p.name for p in folder.iterdir()) == ["vocab.json"]  # no temporary left
