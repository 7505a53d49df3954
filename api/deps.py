"""Dependencies of the HTTP routes: services built once in the app's lifespan, as `Annotated`
types a route declares (`health: ModelHealthDep`); tests pass their own settings to `create_app`.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from serving.champions import ChampionRegistry
from serving.model_health import ModelHealthService
from serving.promoter_value import PromoterValueService
from serving.risk import RiskService


def get_model_health(request: Request) -> ModelHealthService:
    service: ModelHealthService = request.app.state.model_health
    return service


ModelHealthDep = Annotated[ModelHealthService, Depends(get_model_health)]


def get_promoter_value(request: Request) -> PromoterValueService:
    service: PromoterValueService = request.app.state.promoter_value
    return service


PromoterValueDep = Annotated[PromoterValueService, Depends(get_promoter_value)]


def get_risk(request: Request) -> RiskService:
    service: RiskService = request.app.state.risk
    return service


RiskDep = Annotated[RiskService, Depends(get_risk)]


def get_champions(request: Request) -> ChampionRegistry:
    registry: ChampionRegistry = request.app.state.champions
    return registry


ChampionsDep = Annotated[ChampionRegistry, Depends(get_champions)]
