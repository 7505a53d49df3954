"""The dashboard's way to the services: built once per process, data cached for a short while.

Settings are read once (the first time a page needs a service) from the `FENRUN_` environment;
`st.cache_resource` keeps each service (one MLflow client; the snapshot readers), `st.cache_data`
keeps their answers for `TTL_S` seconds so a rerun does not query MLflow or read Parquet again,
while a fresh drift check or snapshot still shows up within a minute.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st
from sqlalchemy import Engine

from serving.config import ServingSettings
from serving.model_health import ModelHealth, ModelHealthService
from serving.promoter_value import PromoterValueReport, PromoterValueService
from serving.risk import RiskService, TriageList
from serving.risk_cases import CaseDetail, case_detail
from serving.segments import SegmentCatalogue, champion_segments
from settlement.config import SettlementSettings
from settlement.db import open_existing
from settlement.plan_store import load_plan_book
from settlement.risk_actions import Decision, confirm_case, dismiss_case, investigate_case
from settlement.risk_cases import list_cases
from settlement.risk_domain import Case, CaseStatus

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


# Risk cases: read from the books (never cached long: the queue changes as the team works) -----

@st.cache_resource
def books() -> Engine:
    """The books at `FENRUN_DATABASE_URL`; `BooksMissing` (a SettlementError) if there are none."""
    return open_existing(SettlementSettings().database_url)


def load_cases(statuses: tuple[str, ...], limit: int = 200) -> list[Case]:
    """Cases of the statuses, by money at risk (see `settlement.risk_cases.list_cases`)."""
    with books().connect() as conn:
        return list_cases(conn, [CaseStatus(s) for s in statuses] or None, limit)


def load_case(case_id: int) -> CaseDetail:
    """One case as a reviewer reads it (`serving.risk_cases.case_detail`)."""
    with books().connect() as conn:
        return case_detail(conn, case_id)


def decide(action: str, case_id: int, by: str, note: str | None) -> Decision:
    """Investigate, confirm or dismiss a case through `settlement.risk_actions` (the same use
    cases as `fenrun risk ...` and `/v1/risk/cases`)."""
    engine = books()
    if action == "investigate":
        return investigate_case(engine, case_id, by, note)
    if action == "confirm":
        with engine.connect() as conn:
            plans = load_plan_book(conn)
        return confirm_case(engine, plans, case_id, by, note)
    if action == "dismiss":
        return dismiss_case(engine, case_id, by, note or "")
    raise ValueError(f"action: {action!r} is not investigate, confirm or dismiss")
