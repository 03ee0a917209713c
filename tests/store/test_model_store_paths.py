"""The model store's root comes from settings: by default beside the database, never the cwd."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tailorcrm.settings import Settings
from tailorcrm.store import Store
from tailorcrm.store.model_store import default_artifacts_dir


def test_a_sqlite_database_keeps_artifacts_beside_its_file(tmp_path: Path) -> None:
    assert default_artifacts_dir(f"sqlite:///{tmp_path}/crm.db") == tmp_path / "artifacts"
    settings = Settings(database_url=f"sqlite:///{tmp_path}/crm.db")
    assert settings.artifacts_dir == tmp_path / "artifacts"


def test_the_default_does_not_follow_the_working_folder(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite:///{tmp_path}/db/crm.db"
    monkeypatch.chdir(tmp_path)
    first = Settings(database_url=url).artifacts_dir
    os.chdir("/")
    assert Settings(database_url=url).artifacts_dir == first == tmp_path / "db" / "artifacts"
    monkeypatch.setenv("TAILORCRM_DATABASE_URL", url)
    assert Settings.load().artifacts_dir == first


def test_server_and_memory_databases_use_a_user_data_folder() -> None:
    pg = default_artifacts_dir("postgresql+psycopg://u:secret@db.example:5433/crm")
    assert pg == Path("~/.local/share/tailorcrm/artifacts/db.example-5433-crm").expanduser()
    assert "secret" not in str(pg)
    assert default_artifacts_dir("sqlite://").is_absolute()
    assert default_artifacts_dir("sqlite:///:memory:").is_absolute()


def test_an_explicit_folder_wins(tmp_path: Path) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path}/crm.db", artifacts_dir=tmp_path / "m")
    assert settings.artifacts_dir == tmp_path / "m"


def test_the_store_facade_uses_the_same_default(sqlite_url: str, tmp_path: Path) -> None:
    with Store.open(sqlite_url) as store:
        assert store.model_store.root == Settings(database_url=sqlite_url).artifacts_dir
    with Store.open(sqlite_url, artifacts_dir=tmp_path / "x") as store:
        assert store.model_store.root == (tmp_path / "x").resolve()
