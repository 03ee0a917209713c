"""The app factory: one FastAPI app over one store, with its model cache and job runner."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from tailorcrm import __version__
from tailorcrm.api.deps import KeyCache
from tailorcrm.api.errors import install_error_handlers
from tailorcrm.api.middleware import (
    CatchAllMiddleware,
    Metrics,
    MetricsMiddleware,
    SizeLimitMiddleware,
)
from tailorcrm.api.routes import (
    configs,
    customers,
    events,
    experiments,
    health,
    insights,
    items,
    jobs,
    keys,
    models,
    privacy,
    recommendations,
    schema,
)
from tailorcrm.api.routes import (
    settings as tenant_settings,
)
from tailorcrm.api.throttle import AuthThrottle
from tailorcrm.console.mount import install_console
from tailorcrm.experiments.exposures import ExposureLog
from tailorcrm.serving.cache import ModelCache
from tailorcrm.serving.jobs import JobRunner
from tailorcrm.settings import Settings
from tailorcrm.store import Store

log = logging.getLogger(__name__)

ROUTERS = (customers.router, items.router, events.router, recommendations.router,
           insights.router, schema.router, configs.router, tenant_settings.router, jobs.router,
           keys.router, models.router, privacy.router, experiments.router, health.router)


def create_app(settings: Settings | None = None, store: Store | None = None) -> FastAPI:
    """A FastAPI app serving ``settings.database_url`` (or the given open ``store``)."""
    settings = settings or Settings.load()
    own_store = store is None
    opened = store if store is not None else Store.open(settings.database_url,
                                                        artifacts_dir=settings.artifacts_dir)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        app.state.jobs.close()  # this worker's queued and running jobs fail now, not later
        app.state.exposures.close()  # experiment exposures still buffered are written
        if own_store:
            opened.close()

    app = FastAPI(title="tailorcrm", version=__version__, lifespan=lifespan,
                  description="Recommendations, predicted needs and next best actions, each "
                              "with reasons, for any CRM. Authenticate with "
                              "`Authorization: Bearer <API key>`.")
    app.state.settings = settings
    app.state.store = opened
    app.state.cache = ModelCache(opened)
    app.state.jobs = JobRunner(opened, app.state.cache, settings.artifacts_dir)
    app.state.metrics = Metrics()
    app.state.exposures = ExposureLog(opened)
    app.state.key_cache = KeyCache()
    app.state.auth_throttle = AuthThrottle(settings.auth_failures_per_minute)
    install_error_handlers(app)
    for router in ROUTERS:
        app.include_router(router)
    install_console(app)
    app.add_middleware(CatchAllMiddleware)  # innermost: first added
    app.add_middleware(MetricsMiddleware, metrics=app.state.metrics)
    app.add_middleware(SizeLimitMiddleware, max_bytes=settings.max_request_bytes)
    return app
