"""Dependencies of the HTTP routes: services built once in the app's lifespan, as `Annotated`
types a route declares (`health: ModelHealthDep`); tests pass their own settings to `create_app`.
"""

from __future__ import annotations

import threading
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import Engine

from api.config import ApiSettings
from api.metrics import ApiMetrics
from serving.champions import ChampionRegistry
from serving.model_health import ModelHealthService
from serving.promoter_value import PromoterValueService
from serving.risk import RiskService
from settlement.config import SettlementSettings
from settlement.people_config import PeopleSettings
from settlement.personal_data import DataCipher, DataKeySettings, is_embedded, load_cipher


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


def get_books(request: Request) -> Engine:
    """The settlement books, opened once in the lifespan."""
    engine: Engine = request.app.state.books
    return engine


BooksDep = Annotated[Engine, Depends(get_books)]


def get_api_settings(request: Request) -> ApiSettings:
    settings: ApiSettings = request.app.state.api_settings
    return settings


ApiSettingsDep = Annotated[ApiSettings, Depends(get_api_settings)]


def get_settlement_settings(request: Request) -> SettlementSettings:
    settings: SettlementSettings = request.app.state.settlement_settings
    return settings


SettlementSettingsDep = Annotated[SettlementSettings, Depends(get_settlement_settings)]


def get_metrics(request: Request) -> ApiMetrics:
    metrics: ApiMetrics = request.app.state.metrics
    return metrics


MetricsDep = Annotated[ApiMetrics, Depends(get_metrics)]


_people_lock = threading.Lock()


def get_data_cipher(request: Request) -> DataCipher:
    """The personal-data cipher, built on the first request that needs one (so books without
    personal data never need a key) from `FENRUN_DATA_KEYS`, read then, once."""
    state = request.app.state
    with _people_lock:
        if getattr(state, "data_cipher", None) is None:
            books: SettlementSettings = state.settlement_settings
            state.data_cipher = load_cipher(DataKeySettings(),
                                            embedded=is_embedded(books.database_url))
    cipher: DataCipher = state.data_cipher
    return cipher


DataCipherDep = Annotated[DataCipher, Depends(get_data_cipher)]


def get_people_settings(request: Request) -> PeopleSettings:
    """Limits and requirements of applications and invites, read once on first use."""
    state = request.app.state
    with _people_lock:
        if getattr(state, "people_settings", None) is None:
            state.people_settings = PeopleSettings()
    settings: PeopleSettings = state.people_settings
    return settings


PeopleSettingsDep = Annotated[PeopleSettings, Depends(get_people_settings)]
