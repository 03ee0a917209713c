"""Artifact paths work from any working folder: settings make the artifacts folder absolute,
so the model registry never holds a path relative to where training ran."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tailorcrm.settings import Settings


def test_the_artifacts_folder_is_absolute_whatever_the_working_folder(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    settings = Settings(artifacts_dir=Path(".tailorcrm/artifacts"))
    assert settings.artifacts_dir.is_absolute()
    assert settings.artifacts_dir == tmp_path.resolve() / ".tailorcrm" / "artifacts"
    monkeypatch.setenv("TAILORCRM_ARTIFACTS_DIR", "models")
    assert Settings.load().artifacts_dir == tmp_path.resolve() / "models"
    os.chdir("/")
    assert Settings.load().artifacts_dir == Path("/models")


def test_a_model_trained_in_one_folder_serves_from_another(
        sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    from fastapi.testclient import TestClient

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "api"))
    from api_helpers import make_api, seed  # the API tests' helpers

    from tailorcrm.api import create_app

    (tmp_path / "train-here").mkdir()
    (tmp_path / "serve-here").mkdir()
    monkeypatch.chdir(tmp_path / "train-here")
    api = make_api(sqlite_url, Path(".tailorcrm/artifacts"))  # relative, as the default is
    try:
        seed(api)
        job = api.client.post("/v1/jobs/train", json={"needs": False, "segments": False},
                              headers=api.h("write")).json()
        assert api.wait_job(job["job_id"])["status"] == "succeeded"
        record = api.store.models.active(api.tid, "recommender")
        assert record is not None and Path(record.path).is_absolute()
        monkeypatch.chdir(tmp_path / "serve-here")
        served = TestClient(create_app(Settings(database_url=sqlite_url), api.store))
        r = served.get("/v1/customers/c0/recommendations", params={"n": 3},
                       headers=api.h("read"))
        assert r.status_code == 200, r.text
    finally:
        api.store.close()
