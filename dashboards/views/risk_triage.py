"""Risk triage: the promoters the anomaly champion flagged, why, and the commission still unpaid.

For the risk team: the flagged promoters in review order (most anomalous first) with the features
that make each one unusual, and the same list ordered by the commission a hold can still protect.
The list is a `fenrun risk flag` snapshot read through `serving.risk`; this page lays it out.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboards.services import load_flag_snapshots, load_triage
from serving.errors import ServingError
from serving.risk import TriageList
from settlement.money import format_amount

COLUMNS = {"rank": "rank", "promoter_id": "promoter", "score": "anomaly score",
           "unpaid_minor": "unpaid", "clawback_minor": "claw-back owed", "paid_minor": "paid",
           "reasons": "most unusual features (robust sd from the median)"}


def triage_table(rows: pd.DataFrame, currency: str) -> pd.DataFrame:
    """The flagged rows as a reviewer reads them: amounts in the currency, score rounded."""
    out = rows[list(COLUMNS)].copy()
    for column in ("unpaid_minor", "clawback_minor", "paid_minor"):
        out[column] = [format_amount(int(v), currency) for v in out[column]]
    return out.round({"score": 3}).rename(columns=COLUMNS)


def summary(triage: TriageList) -> None:
    flagged = triage.flagged
    cells = st.columns(3)
    cells[0].metric("flagged promoters", f"{len(flagged):,} of {len(triage.scored):,}")
    cells[1].metric(f"unpaid commission at stake ({triage.currency})",
                    format_amount(triage.unpaid_at_stake_minor, triage.currency))
    cells[2].metric("with money to hold", f"{len(triage.by_money_at_stake()):,}")


def main() -> None:
    st.title("Risk triage")
    try:
        snapshots = load_flag_snapshots()
        if not snapshots:
            st.info("No anomaly flags yet: run `fenrun risk flag --as-of DATE` (it needs an "
                    "anomaly champion: `fenrun train anomaly`).")
            return
        as_of = st.selectbox("profiles as of", snapshots,
                             format_func=lambda t: f"{t:%Y-%m-%d %H:%M} UTC")
        triage = load_triage(as_of)
    except ServingError as error:
        st.warning(str(error))
        return
    st.caption(f"Flagged by fenrun-anomaly v{triage.model_version}: the top of the anomaly score, "
               "as many as the review budget allows. Unpaid = pending + available commission "
               "now (net of claw-backs owed): what a hold can still protect.")
    summary(triage)
    holdable = triage.by_money_at_stake()
    if len(holdable):
        st.error(f"**{len(holdable):,} flagged promoters have "
                 f"{format_amount(triage.unpaid_at_stake_minor, triage.currency)} "
                 f"{triage.currency} of commission not yet paid**: review them before the next "
                 "payout run.")
        st.subheader("Money to hold first (largest unpaid commission first)")
        st.dataframe(triage_table(holdable, triage.currency), hide_index=True)
    st.subheader("Every flagged promoter (most anomalous first)")
    st.dataframe(triage_table(triage.flagged, triage.currency), hide_index=True)


main()
