"""The dashboard's way to the services: built once per process, data cached for a short while.

Settings are read once (the first time a page needs a service) from the `FENRUN_` environment;
`st.cache_resource` keeps each service (one MLflow client; the snapshot readers), `st.cache_data`
keeps their answers for `TTL_S` seconds so a rerun does not query MLflow or read Parquet again,
while a fresh drift check or snapshot still shows up within a minute.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from serving.config import ServingSettings
from serving.model_health import ModelHealth, ModelHealthService
from serving.promoter_value import PromoterValueReport, PromoterValueService
from serving.risk import RiskService, TriageList
from serving.segments import SegmentCatalogue, champion_segments

TTL_S = 30


@st.cache_resource
def model_health_service() -> ModelHealthService:
    return ModelHealthService(ServingSettings())


@st.cache_data(ttl=TTL_S, show_spinner="Reading the model registry…")
def load_model_health() -> tuple[ModelHealth, ...]:
    """Every registered model with its champion and latest drift check (see `serving`)."""
    return model_health_service().models()


@st.cache_resource
def promoter_value_service() -> PromoterValueService:
    return PromoterValueService(ServingSettings())


@st.cache_data(ttl=TTL_S, show_spinner=False)
def load_value_snapshots() -> list[pd.Timestamp]:
    """As-of instants of the stored promoter value snapshots, newest first."""
    return promoter_value_service().snapshots()


@st.cache_data(ttl=TTL_S, show_spinner="Reading the promoter value snapshot…")
def load_promoter_value(as_of: pd.Timestamp | None) -> PromoterValueReport:
    """One promoter LTV/CAC snapshot (the newest when `as_of` is None)."""
    return promoter_value_service().report(as_of)


@st.cache_resource
def risk_service() -> RiskService:
    return RiskService(ServingSettings())


@st.cache_data(ttl=TTL_S, show_spinner=False)
def load_flag_snapshots() -> list[pd.Timestamp]:
    """As-of instants of the stored anomaly flag lists, newest first."""
    return risk_service().snapshots()


@st.cache_data(ttl=TTL_S, show_spinner="Reading the anomaly flags…")
def load_triage(as_of: pd.Timestamp | None) -> TriageList:
    """One anomaly flag list (the newest when `as_of` is None)."""
    return risk_service().triage(as_of)


@st.cache_data(ttl=TTL_S, show_spinner="Reading the segments champion…")
def load_segments() -> SegmentCatalogue:
    """The segments of `fenrun-segments@champion` (see `serving.segments`)."""
    return champion_segments(model_health_service())
