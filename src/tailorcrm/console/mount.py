"""Putting the console into the API's app: its routers and its static files."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from tailorcrm.console.auth import PREFIX
from tailorcrm.console.routes import (
    configs,
    customers,
    experiments,
    items,
    jobs,
    needs,
    overview,
    signin,
)

STATIC = Path(__file__).with_name("static")
ROUTERS = (signin.router, overview.router, customers.router, needs.router, configs.router,
           items.router, jobs.router, experiments.router)


def install_console(app: FastAPI) -> None:
    """Serve the console at ``/console`` (static assets need no session: they hold no data)."""
    for router in ROUTERS:
        app.include_router(router)
    app.mount(f"{PREFIX}/static", StaticFiles(directory=STATIC), name="console-static")
