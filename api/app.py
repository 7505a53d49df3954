"""The HTTP API (FastAPI): model health and promoter value, for the dashboards and the mall.

`create_app(settings)` reads `ServingSettings` once (unless given) and builds the services in the
lifespan; routes get them through `Annotated` dependencies (`api.deps`); serving's errors are
mapped to statuses and stable codes in one table (`api.errors`). `fenrun serve` runs it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from api.errors import install_error_handlers
from api.head import HeadAsGet
from api.routes import health, models, promoters
from serving.champions import ChampionRegistry
from serving.config import ServingSettings
from serving.model_health import ModelHealthService
from serving.promoter_value import PromoterValueService
from serving.risk import RiskService


def create_app(settings: ServingSettings | None = None) -> FastAPI:
    """The app; `settings` default to the `FENRUN_` environment, read here, once."""
    resolved = settings or ServingSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.model_health = ModelHealthService(resolved)
        app.state.promoter_value = PromoterValueService(resolved)
        app.state.risk = RiskService(resolved)
        app.state.champions = ChampionRegistry(resolved)  # loads on first use, kept hot
        try:
            yield
        finally:
            app.state.champions.close()

    app = FastAPI(title="fenrun", lifespan=lifespan,
                  summary="Promoter commissions: model health, drift and promoter value.")
    app.state.settings = resolved
    install_error_handlers(app)
    app.add_middleware(HeadAsGet)
    app.include_router(health.router)
    app.include_router(models.router)
    app.include_router(promoters.router)
    return app
