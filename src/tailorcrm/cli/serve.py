"""``tailorcrm serve``: the REST API under uvicorn."""

from __future__ import annotations

import logging
import os
from typing import Annotated

import typer
import uvicorn
from fastapi import FastAPI

from tailorcrm.cli.common import DbOption, handle_errors, load_settings
from tailorcrm.settings import Settings
from tailorcrm.store import Store

log = logging.getLogger(__name__)


def app_from_env() -> FastAPI:
    """The app of one uvicorn worker, configured from ``TAILORCRM_*`` (``--factory`` target)."""
    from tailorcrm.api import create_app

    return create_app(Settings.load())


def serve(settings: Settings, *, workers: int | None = None, log_level: str = "info") -> None:
    """Serve the API for ``settings`` until interrupted (blocks).

    This is what ``tailorcrm demo`` calls last. With several workers each process opens its
    own store, so the settings travel to them through ``TAILORCRM_*`` variables.
    """
    os.environ["TAILORCRM_DATABASE_URL"] = settings.database_url
    os.environ["TAILORCRM_ARTIFACTS_DIR"] = str(settings.artifacts_dir)
    os.environ["TAILORCRM_MAX_REQUEST_BYTES"] = str(settings.max_request_bytes)
    uvicorn.run("tailorcrm.cli.serve:app_from_env", factory=True, host=settings.host,
                port=settings.port, workers=workers or settings.workers, log_level=log_level,
                access_log=False)


def api_access(store: Store, tid: int, settings: Settings, customer_id: str,
               scopes: tuple[str, ...] = ("read", "write")) -> tuple[str, str]:
    """A new API key of tenant ``tid`` and a working ``curl`` line for one customer's list.

    ``tailorcrm demo`` prints both, closes its store and then calls :func:`serve`.
    """
    _, secret = store.keys.create(tid, scopes, "demo")
    url = (f"http://{settings.host}:{settings.port}/v1/customers/{customer_id}"
           f"/recommendations?n=5")
    return secret, f"curl -H 'Authorization: Bearer {secret}' '{url}'"


@handle_errors
def serve_command(
    host: Annotated[str | None, typer.Option(help="Interface (default 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default 8000).")] = None,
    db: DbOption = None,
    workers: Annotated[int | None, typer.Option(min=1, help="Worker processes.")] = None,
    log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "info",
) -> None:
    """Serve the REST API (OpenAPI at /docs) until Ctrl-C."""
    settings = load_settings(db=db)
    overrides = {k: v for k, v in {"host": host, "port": port, "workers": workers}.items()
                 if v is not None}
    settings = settings.model_copy(update=overrides)
    typer.echo(f"serving {settings.database_url} on http://{settings.host}:{settings.port} "
               f"(OpenAPI at /docs)")
    serve(settings, log_level=log_level)
