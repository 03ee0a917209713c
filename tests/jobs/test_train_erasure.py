"""A training job respects erasures that happen while it runs, and a run that fails or stops
before its end leaves the active recommender and its lists as they were (both backends)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from sqlalchemy import select
from train_planted import seed_tenant, traces_of

from tailorcrm.errors import NotFoundError
from tailorcrm.jobs.train import RECOMMENDER_NAME, TrainConfig, config_hash, train_tenant
from tailorcrm.recommend.ranking import Ranker, RankingConfig
from tailorcrm.serving.cache import ModelCache, TenantModel
from tailorcrm.serving.recommend import recommend
from tailorcrm.store import Store
from tailorcrm.store.tables import CustomerTombstone


def _installer(cache: ModelCache, tid: int):  # type: ignore[no-untyped-def]
    def install(ranker: Ranker, version: str) -> None:
        cache.install(tid, TenantModel(version, config_hash(RankingConfig()), ranker))

    return install


@pytest.mark.parametrize("erase_at", ["recommender: precompute", "precompute pop"])
def test_customer_erased_during_training_is_not_written_back(database_url: str, tmp_path: Path,
                                                             erase_at: str) -> None:
    with Store.open(database_url) as store:
        tid = seed_tenant(store)
        erased: list[str] = []

        def progress(step: str, done: int, total: int | None) -> None:
            # after the job read its data: before any write, or after needs and segments
            if step == erase_at and not erased:
                assert store.erase_customer(tid, "c3")["customers"] == 1
                erased.append("c3")

        cache = ModelCache(store)
        report = train_tenant(store, tid, tmp_path, TrainConfig(), progress,
                              on_ranker=_installer(cache, tid))
        assert erased and report.customers == 60
        assert report.recommendation_lists == 59 and report.strategies == {"pop": 59}
        # stored before the erasure (which then deleted them) or left out by the job
        before = 60 if erase_at == "precompute pop" else 59
        assert report.segmentations == {"rfm": before, "behaviour": before}
        assert report.needs["churn"]["customers_scored"] == before
        assert traces_of(store, tid, "c3") == {"customer": None, "events": [], "segments": {},
                                               "needs": {}, "lists": {}}
        kept = traces_of(store, tid, "c4")
        assert kept["segments"] and kept["needs"] and set(kept["lists"]) == {"default", "pop"}
        # the new model's vocabulary file forgets the customer; the tombstone holds no id
        active = store.models.active(tid, RECOMMENDER_NAME)
        assert active is not None and active.version == report.recommender_version
        vocab = json.loads((Path(active.path) / "vocab.json").read_text())
        assert "c3" not in vocab["customers"] and "c4" in vocab["customers"]
        with store.engine.connect() as conn:
            hashes = conn.execute(select(CustomerTombstone.customer_hash)).scalars().all()
        assert hashes == [store.tombstones.hasher(tid)("c3")]  # keyed: not guessable
        assert hashes[0] != hashlib.sha256(b"c3").hexdigest()
        # serving refuses the customer although the installed ranker was trained on them
        assert cache.get(tid) is not None and cache.get(tid).data.customer_vocab.index_of(  # type: ignore[union-attr]
            "c3") >= 0
        for strategy in ("default", "pop"):
            with pytest.raises(NotFoundError):
                recommend(store, cache, tid, "c3", strategy=strategy)
        assert recommend(store, cache, tid, "c4").items


def test_failure_after_fit_keeps_the_active_recommender(database_url: str,
                                                       tmp_path: Path) -> None:
    with Store.open(database_url) as store:
        tid = seed_tenant(store)
        first = train_tenant(store, tid, tmp_path, TrainConfig(needs=False))
        v1 = first.recommender_version

        def fail_late(step: str, done: int, total: int | None) -> None:
            if step == "precompute pop":  # after fit, needs and segments were done
                raise RuntimeError("disk full")

        with pytest.raises(RuntimeError, match="disk full"):
            train_tenant(store, tid, tmp_path, TrainConfig(needs=False), fail_late)
        active = store.models.active(tid, RECOMMENDER_NAME)
        assert active is not None and active.version == v1
        assert len(store.models.list(tid, RECOMMENDER_NAME)) == 2  # the failed one, inactive
        stored = store.recommendations.get(tid, "default", "c4")
        assert stored is not None and not stored.is_stale(v1, active.config_hash)
        served = recommend(store, ModelCache(store), tid, "c4")
        assert served.model_version == v1 and served.source == "precomputed"


def test_every_step_off_reads_and_writes_nothing(database_url: str, tmp_path: Path) -> None:
    with Store.open(database_url) as store:
        tid = seed_tenant(store)
        off = TrainConfig(recommend=False, precompute=False, needs=False, segments=False,
                          strategies=False)
        report = train_tenant(store, tid, tmp_path, off)
        assert (report.customers, report.recommender_version, report.strategies) == (0, None, {})
        assert store.recommendations.strategies(tid) == {} and store.models.list(tid) == []
        assert store.segments.list(tid) == {}
