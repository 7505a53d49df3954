"""Promoter value: what the customers each promoter brought are worth against what they cost.

For the growth team: the totals, LTV/CAC per segment and per channel (with the bootstrap band),
the promoters who cost more than they bring with confidence (the top of their band below 1), and
every promoter, filterable. The numbers come from `fenrun ltv promoters` snapshots read through
`serving.promoter_value`; this page only lays them out. Money is shown from whole minor units.
"""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from dashboards.services import (
    load_flag_snapshots,
    load_promoter_value,
    load_triage,
    load_value_snapshots,
)
from serving.errors import ServingError
from serving.promoter_value import BREAK_EVEN, PromoterValueReport
from settlement.money import format_amount

MONEY = {"realised_minor": "realised", "predicted_minor": "predicted", "ltv_minor": "LTV",
         "cac_minor": "CAC", "commission_later_minor": "later commission"}
RATIOS = {"ltv_cac": "LTV/CAC", "ltv_cac_shrunk": "LTV/CAC shrunk", "ltv_cac_low": "band 5 %",
          "ltv_cac_high": "band 95 %", "median_ltv_cac_shrunk": "median shrunk LTV/CAC"}
COUNTS = {"confidently_losing": "confidently losing"}


def money_columns(frame: pd.DataFrame, currency: str) -> pd.DataFrame:
    """Minor-unit columns shown as decimal strings of the currency, ratios rounded."""
    out = frame.copy()
    for column in MONEY:
        if column in out:
            out[column] = [format_amount(int(v), currency) for v in out[column]]
    return out.round({c: 2 for c in RATIOS if c in out}).rename(
        columns={**MONEY, **RATIOS, **COUNTS})


def channel_chart(channels: pd.DataFrame) -> alt.LayerChart:
    """Shrunk LTV/CAC per channel with its 5-95 % band; the dashed line is break-even."""
    bars = alt.Chart(channels).mark_bar(color="#9ecae1").encode(
        x=alt.X("ltv_cac_shrunk:Q", title="LTV/CAC (shrunk), 5-95 % band"),
        y=alt.Y("channel:N", sort="-x", title=None),
        tooltip=["channel", "customers", alt.Tooltip("ltv_cac_shrunk:Q", format=".2f"),
                 alt.Tooltip("ltv_cac_low:Q", format=".2f"),
                 alt.Tooltip("ltv_cac_high:Q", format=".2f")])
    band = alt.Chart(channels).mark_rule(color="black").encode(
        x="ltv_cac_low:Q", x2="ltv_cac_high:Q", y=alt.Y("channel:N", sort="-x"))
    even = alt.Chart(pd.DataFrame({"x": [BREAK_EVEN]})).mark_rule(
        color="#d62728", strokeDash=[4, 4]).encode(x="x:Q")
    return bars + band + even


def totals_row(report: PromoterValueReport) -> None:
    totals = report.totals
    cells = st.columns(5)
    cells[0].metric("promoters", f"{totals.promoters:,}")
    cells[1].metric("acquired customers", f"{totals.customers:,}")
    cells[2].metric(f"LTV ({report.currency})", format_amount(totals.ltv_minor, report.currency))
    cells[3].metric(f"CAC ({report.currency})", format_amount(totals.cac_minor, report.currency))
    ratio = totals.ltv_cac
    cells[4].metric("LTV/CAC", f"{ratio:.2f}" if ratio is not None else "n/a")


def risk_flagged() -> tuple[frozenset[str], str]:
    """Promoters on the newest anomaly flag list and its date; empty when there is none. Why
    here: a fraudster's fake customers inflate its LTV, so a high ratio needs a second look."""
    try:
        if not load_flag_snapshots():
            return frozenset(), ""
        triage = load_triage(None)
    except ServingError:
        return frozenset(), ""
    return frozenset(triage.flagged["promoter_id"]), f"{triage.as_of:%Y-%m-%d}"


def promoter_table(report: PromoterValueReport, flagged: frozenset[str]) -> None:
    promoters = report.promoters.assign(
        risk=lambda f: f["promoter_id"].isin(flagged).map({True: "flagged", False: ""}))
    left, right = st.columns(2)
    channels = left.multiselect("channel", sorted(promoters["channel"].dropna().unique()))
    segment_names = sorted(promoters["segment_name"].dropna().unique())
    segments = right.multiselect("segment", segment_names) if segment_names else []
    shown = promoters
    if channels:
        shown = shown[shown["channel"].isin(channels)]
    if segments:
        shown = shown[shown["segment_name"].isin(segments)]
    columns = ["promoter_id", "risk", "channel", "segment_name", "customers", *MONEY, "ltv_cac",
               "ltv_cac_shrunk", "ltv_cac_low", "ltv_cac_high"]
    st.dataframe(money_columns(shown.sort_values("ltv_cac_shrunk")[columns], report.currency)
                 .rename(columns={"segment_name": "segment"}), hide_index=True)


def main() -> None:
    st.title("Promoter value")
    try:
        snapshots = load_value_snapshots()
        if not snapshots:
            st.info("No promoter value snapshot yet: run `fenrun ltv promoters --as-of DATE`.")
            return
        as_of = st.selectbox("as of", snapshots, format_func=lambda t: f"{t:%Y-%m-%d %H:%M} UTC")
        report = load_promoter_value(as_of)
    except ServingError as error:
        st.warning(str(error))
        return
    st.caption(f"LTV = realised net revenue + predicted net revenue over the next "
               f"{report.horizon_days} days of each acquired customer; CAC = commission on the "
               "customer's first order. Shrunk ratios pull promoters with few customers towards "
               "their channel; the band is the 5-95 % bootstrap range.")
    totals_row(report)

    losing = report.confidently_losing()
    if len(losing):
        st.error(f"**{len(losing):,} promoters cost more than their customers are worth**, "
                 "with confidence (95 % end of the LTV/CAC band below 1); costliest first below.")
    st.subheader("By segment")
    if report.has_segments:
        st.dataframe(money_columns(report.segments(), report.currency), hide_index=True)
    else:
        st.caption("No segment column in this snapshot: train segments (`fenrun train "
                   "segments`) and run `fenrun ltv promoters` again.")
    st.subheader("By channel")
    left, right = st.columns([3, 2])
    left.altair_chart(channel_chart(report.channels), width="stretch")
    right.dataframe(money_columns(report.channels[["channel", "customers", "ltv_minor",
                                                   "cac_minor", "ltv_cac", "ltv_cac_low",
                                                   "ltv_cac_high"]], report.currency),
                    hide_index=True)
    if len(losing):
        st.subheader("Confidently below break-even")
        st.dataframe(money_columns(losing[["promoter_id", "channel", "segment_name", "customers",
                                           "ltv_minor", "cac_minor", "ltv_cac_shrunk",
                                           "ltv_cac_high"]], report.currency)
                     .rename(columns={"segment_name": "segment"}), hide_index=True)
    st.subheader("Every promoter (lowest shrunk LTV/CAC first)")
    flagged, flags_as_of = risk_flagged()
    on_list = int(report.promoters["promoter_id"].isin(flagged).sum())
    if on_list:
        st.warning(f"{on_list:,} of these promoters are on the risk flag list of {flags_as_of} "
                   "(column `risk`): fake customers inflate LTV, so check them in Risk triage "
                   "before rewarding a high ratio.")
    promoter_table(report, flagged)


main()
