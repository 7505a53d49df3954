"""The HTTP API (FastAPI): the mall sends events and reads balances; growth, risk and finance
read model health, promoter value, risk flags, balances and payouts, and act on payouts; admin
manages keys and plans. Every route under `/v1` names its roles (`api.auth`); probes and metrics
(`/healthz`, `/readyz`, `/metrics`) need no key.

`create_app(settings, books, api)` reads each settings class once (unless given) and builds the
services and the books' engine in the lifespan; routes get them through `Annotated` dependencies
(`api.deps`); errors are mapped to statuses and stable codes in one table (`api.errors`).
`fenrun serve` runs it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

from fastapi import FastAPI, routing
from fastapi.openapi.utils import get_openapi

from api.auth import KeyCache, route_roles
from api.config import ApiSettings
from api.errors import AUTH_RESPONSES, install_error_handlers
from api.head import HeadAsGet
from api.metrics import ApiMetrics, CountedRequests
from api.ratelimit import TokenBuckets
from api.routes import (
    applications,
    balances,
    events,
    health,
    invites,
    keys,
    models,
    orders,
    payouts,
    plans,
    privacy,
    promoters,
    rates,
    risk_cases,
    segments,
)
from api.routes import bank as bank_routes
from api.routes import me as me_routes
from api.routes import payees as payees_routes
from api.routes import statements as statements_routes
from api.routes import withdrawals as withdrawals_routes
from serving.champions import ChampionRegistry
from serving.config import ServingSettings
from serving.model_health import ModelHealthService
from serving.promoter_value import PromoterValueService
from serving.rate_advice import RateAdviceStore
from serving.rate_config import RateSettings
from serving.risk import RiskService
from settlement import db
from settlement.config import SettlementSettings
from settlement.stream.config import StreamSettings
from settlement.stream.lag import StreamLag

ROUTERS = (health, events, balances, payouts, plans, keys, models, segments, promoters, rates,
           applications, invites, privacy, payees_routes, withdrawals_routes, bank_routes,
           statements_routes, risk_cases, me_routes, orders)


def create_app(settings: ServingSettings | None = None, books: SettlementSettings | None = None,
               api: ApiSettings | None = None, stream: StreamSettings | None = None) -> FastAPI:
    """The app; settings default to the `FENRUN_` environment, read here, once."""
    resolved = settings or ServingSettings()
    books_settings = books or SettlementSettings()
    api_settings = api or ApiSettings()
    stream_settings = stream or StreamSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # The API brings money in (POST /v1/events), so like `fenrun settle` it creates the
        # schema on an empty database and refuses an outdated one.
        engine = db.create_db_engine(books_settings.database_url)
        db.ensure_schema(engine)
        app.state.books = engine
        app.state.keys = KeyCache(engine, api_settings.key_cache_s)
        app.state.model_health = ModelHealthService(resolved)
        app.state.promoter_value = PromoterValueService(resolved)
        app.state.risk = RiskService(resolved)
        app.state.champions = ChampionRegistry(resolved)  # loads on first use, kept hot
        app.state.rate_settings = rates = RateSettings()  # kill switch, notice, cycle
        app.state.rate_advice = RateAdviceStore(engine, api_settings.rates_refresh_s,
                                                timedelta(days=rates.cycle_days))
        app.state.rate_advice.start()  # loaded now, refreshed in the background
        app.state.publisher = None
        if stream_settings.kafka_bootstrap:  # events go to the worker through the broker
            from api.publish import OrdersPublisher

            app.state.publisher = OrdersPublisher(stream_settings.kafka_bootstrap,
                                                  stream_settings.orders_topic)
        try:
            yield
        finally:
            app.state.rate_advice.close()
            app.state.champions.close()
            if app.state.publisher is not None:
                app.state.publisher.close()
            if app.state.metrics.lag is not None:
                app.state.metrics.lag.close()
            engine.dispose()

    app = FastAPI(title="fenrun", version="1", lifespan=lifespan,
                  summary="Promoter commissions: events in, balances, payouts, plans, and the "
                          "models that tune them.")
    app.state.settings = resolved
    app.state.settlement_settings = books_settings
    app.state.api_settings = api_settings
    app.state.rate_limits = TokenBuckets(api_settings.rate_per_s, api_settings.burst)
    lag = StreamLag(stream_settings) if stream_settings.kafka_bootstrap else None
    app.state.metrics = metrics = ApiMetrics(lag)
    install_error_handlers(app)
    app.add_middleware(HeadAsGet)
    app.add_middleware(CountedRequests, metrics=metrics)
    for module in ROUTERS:
        app.include_router(module.router)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app


def api_routes(app: FastAPI) -> list[tuple[str, str, tuple[str, ...] | None]]:
    """(method, path, roles) of every route in the document; roles None for the probes.
    The role-matrix test walks this list, so a new route without roles fails it."""
    found = []
    for context in routing.iter_route_contexts(app.routes):
        if isinstance(context.original_route, routing.APIRoute) and context.include_in_schema:
            roles = route_roles(context.dependant)
            path = str(context.path_format)
            found += [(method, path, roles) for method in sorted(context.methods or ())]
    return found


def _openapi(app: FastAPI) -> dict[str, Any]:
    """FastAPI's document, with each route's roles (`x-roles`, and a line in its description)
    and the 401/403/429 answers every keyed route may give."""
    if app.openapi_schema:
        return app.openapi_schema
    document = get_openapi(title=app.title, version=app.version, summary=app.summary,
                           routes=app.routes)
    for method, path, roles in api_routes(app):
        if roles is not None:
            operation = document["paths"][path].get(method.lower())
            if operation is None:
                continue
            operation["x-roles"] = list(roles)
            operation["description"] = (f"Roles: {', '.join(roles)}.\n\n"
                                        + operation.get("description", ""))
            for status, answer in AUTH_RESPONSES.items():
                operation["responses"].setdefault(str(status), {
                    "description": answer["description"],
                    "content": {"application/json": {
                        "schema": {"$ref": "#/components/schemas/ErrorOut"}}}})
    app.openapi_schema = document
    return document
