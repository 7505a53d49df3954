"""The Rate suggestions page's way to the books: one engine per process, answers cached briefly.

Reads go through `settlement.read_model`, the what-if through `serving.rate_whatif`, the
experiment through `training.rate_experiment`, decisions through `serving.rate_decisions` (the
same services as `fenrun rates` and the API). Settings are read once per process, the first time
the page needs them. The what-if re-settles the books in scratch books, so its answer is cached
per window and per state of the suggestions (their marker), not per rerun.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import streamlit as st
from sqlalchemy import Engine

from serving.config import ServingSettings
from serving.rate_config import RateSettings
from serving.rate_whatif import WhatIfReport, what_if_report
from settlement import read_model
from settlement.config import SettlementSettings
from settlement.db import open_existing
from settlement.rate_suggestions import SuggestionRow
from training.ltv.config import MarginSettings
from training.rate_experiment import ExperimentReport, experiment_report

TTL_S = 30
MAX_SHOWN = 1000  # pending suggestions listed on the page


@st.cache_resource
def books() -> Engine:
    """The books (`FENRUN_DATABASE_URL`), opened read-write: the page records decisions."""
    return open_existing(SettlementSettings().database_url)


@st.cache_resource
def rate_settings() -> RateSettings:
    return RateSettings()


def marker() -> str:
    """Changes whenever a suggestion is stored or decided: the key of the cached answers."""
    with books().connect() as conn:
        return repr(read_model.suggestions_marker(conn))


@st.cache_data(ttl=TTL_S, show_spinner="Reading the suggestions…")
def load_pending(marker_key: str) -> list[SuggestionRow]:
    with books().connect() as conn:
        return read_model.list_suggestions(conn, status="pending", limit=MAX_SHOWN)


@st.cache_data(ttl=TTL_S, show_spinner=False)
def load_last_event() -> datetime | None:
    with books().connect() as conn:
        return read_model.last_event_at(conn)


@st.cache_data(ttl=600, show_spinner="Re-settling the window under the pending rates…")
def load_what_if(start: datetime, end: datetime, marker_key: str) -> WhatIfReport:
    """Cached per window and `marker_key` (the suggestions' marker)."""
    return what_if_report(books(), start, end, None, ServingSettings())


@st.cache_data(ttl=TTL_S, show_spinner="Measuring the experiment…")
def load_experiment(marker_key: str) -> ExperimentReport:
    return experiment_report(books(), MarginSettings().rates())


def default_window(last: datetime | None, days: int = 30) -> tuple[datetime, datetime]:
    """The last `days` of the books (a cycle): what the pending rates would have cost there."""
    end = last or datetime.now().astimezone()
    return end - timedelta(days=days), end
