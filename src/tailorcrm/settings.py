"""One settings class read from a TOML file and ``TAILORCRM_`` environment variables."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from tailorcrm.customize.budget import RuleLimits

DEFAULT_DATABASE_URL = "sqlite:///tailorcrm.db"


def _default_data_dir() -> Path | None:
    """``../shared/data`` beside the working directory when it exists (the staged data sets)."""
    for base in (Path.cwd(), *Path.cwd().parents):
        candidate = base.parent / "shared" / "data"
        if candidate.is_dir():
            return candidate
        if (base / "pyproject.toml").exists():
            break
    return None


class Settings(BaseSettings):
    """Settings of one tailorcrm process; passed down as an argument, never read twice.

    Order of precedence: explicit arguments, then ``TAILORCRM_*`` environment variables,
    then the TOML file named by ``TAILORCRM_CONFIG`` (or ``tailorcrm.toml``), then defaults.
    """

    model_config = SettingsConfigDict(env_prefix="TAILORCRM_", extra="forbid")

    database_url: str = Field(DEFAULT_DATABASE_URL, description="SQLAlchemy URL of the data store.")
    tenant: str = Field("default", description="Tenant used when a command names none.")
    data_dir: Path | None = Field(default_factory=_default_data_dir, description="Data sets.")
    artifacts_dir: Path = Field(description="Root of the model store's artifact files. "
                                            "Default: beside the database (a SQLite file's "
                                            "folder + /artifacts; for PostgreSQL "
                                            "~/.local/share/tailorcrm/artifacts/<host>-<port>-"
                                            "<database>). A relative value is made absolute "
                                            "when read, so the registry holds paths that work "
                                            "from any working folder.")
    import_chunk_rows: int = Field(100_000, gt=0, description="Rows per streamed import chunk.")
    log_level: str = Field("INFO", description="Python logging level.")
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    max_request_bytes: int = Field(5_000_000, gt=0, description="Largest request body accepted.")
    auth_failures_per_minute: int = Field(
        30, gt=0, description="Failed authentications one client address may make per minute "
                              "before it gets 429 for the rest of the minute.")
    engine: Literal["single", "spark"] = Field(
        "single", description="Where `tailorcrm train` runs: this process (single) or Apache "
                              "Spark (pip install 'tailorcrm[spark]'; docs/scale-out.md).")
    spark_master: str = Field("local[2]", description="Spark master URL of the spark engine "
                                                      "(local[N], yarn, k8s://..., spark://...).")
    spark_conf: dict[str, str] = Field(
        default_factory=dict, description="Extra spark.* settings ([tailorcrm.spark_conf]).")
    rule_limits: RuleLimits = Field(default_factory=RuleLimits,
                                    description="Run-time budgets of business rules and "
                                                "per-tenant limits ([tailorcrm.rule_limits]).")

    @model_validator(mode="before")
    @classmethod
    def _artifacts_beside_the_database(cls, values: Any) -> Any:
        """No ``artifacts_dir`` given: the model store's default for the database URL."""
        if isinstance(values, dict) and values.get("artifacts_dir") in (None, ""):
            from tailorcrm.store.model_store import default_artifacts_dir

            url = values.get("database_url") or DEFAULT_DATABASE_URL
            values = {**values, "artifacts_dir": default_artifacts_dir(str(url))}
        return values

    @field_validator("artifacts_dir")
    @classmethod
    def _absolute(cls, value: Path) -> Path:
        return value.expanduser().resolve()

    @classmethod
    def load(cls, config_file: Path | None = None, **overrides: Any) -> Settings:
        """Read the TOML file (if any), then the environment, then ``overrides`` (non-None)."""
        import os

        path = config_file or Path(os.environ.get("TAILORCRM_CONFIG", "tailorcrm.toml"))
        file_values: dict[str, Any] = {}
        if path.is_file():
            with path.open("rb") as fh:
                file_values = tomllib.load(fh).get("tailorcrm", {})
        env_names = {name for name in cls.model_fields if f"TAILORCRM_{name.upper()}" in os.environ}
        values = {k: v for k, v in file_values.items() if k not in env_names}
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)
