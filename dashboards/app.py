"""The fenrun dashboard's one entry point: `streamlit run dashboards/app.py` (`make dashboard`).

Pages live in `dashboards/views/`, each a script that reads through `serving` (via
`dashboards.services`) and holds no business rule; add a page by adding it to `PAGES`.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

PAGES = Path(__file__).parent / "views"

st.set_page_config(page_title="fenrun", layout="wide")
page = st.navigation([
    st.Page(PAGES / "model_health.py", title="Model health", icon=":material/monitor_heart:",
            default=True),
    st.Page(PAGES / "segments.py", title="Segments", icon=":material/groups:"),
    st.Page(PAGES / "promoter_value.py", title="Promoter value", icon=":material/savings:"),
    st.Page(PAGES / "risk_triage.py", title="Risk triage", icon=":material/policy:"),
    st.Page(PAGES / "rate_suggestions.py", title="Rate suggestions", icon=":material/percent:"),
    st.Page(PAGES / "finance.py", title="Finance", icon=":material/account_balance:"),
])
page.run()
