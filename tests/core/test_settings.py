"""Settings: file, environment and explicit overrides, in that order of precedence."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from tailorcrm.settings import Settings


def test_defaults(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    for name in ("TAILORCRM_DATABASE_URL", "TAILORCRM_TENANT", "TAILORCRM_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    s = Settings.load()
    assert s.database_url == "sqlite:///tailorcrm.db"
    assert s.tenant == "default"


def test_file_then_env_then_override(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    cfg = tmp_path / "t.toml"
    cfg.write_text('[tailorcrm]\ndatabase_url = "sqlite:///file.db"\ntenant = "filetenant"\n'
                   "port = 9001\n")
    monkeypatch.delenv("TAILORCRM_DATABASE_URL", raising=False)
    monkeypatch.setenv("TAILORCRM_TENANT", "envtenant")
    s = Settings.load(cfg)
    assert s.database_url == "sqlite:///file.db"
    assert s.tenant == "envtenant"
    assert s.port == 9001
    s2 = Settings.load(cfg, tenant="argtenant", database_url=None)
    assert s2.tenant == "argtenant"
    assert s2.database_url == "sqlite:///file.db"


def test_unknown_key_rejected(tmp_path: Path) -> None:
    cfg = tmp_path / "t.toml"
    cfg.write_text('[tailorcrm]\ndatabse_url = "typo"\n')
    with pytest.raises(ValidationError):
        Settings.load(cfg)


def test_example_file_is_valid() -> None:
    example = Path(__file__).resolve().parents[2] / "tailorcrm.example.toml"
    s = Settings.load(example)
    assert s.import_chunk_rows == 100_000
