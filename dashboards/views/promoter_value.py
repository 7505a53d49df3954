"""Promoter value: what the customers each promoter brought are worth against what they cost.

For the growth team: the totals, LTV/CAC per segment and per channel (with the bootstrap band),
the promoters who cost more than they bring with confidence (the top of their band below 1), and
every promoter, filterable. The numbers come from `fenrun ltv promoters` snapshots read through
`serving.promoter_value`; this page only lays them out. Money is shown from whole minor units.
Every table names its basis (a `basis` column, and the ratio headings say it): LTV/CAC on the
margin basis (contribution to the mall) with GMV beside; an old snapshot reads as basis "gmv".
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

MONEY = {"gmv_realised_minor": "GMV realised", "gmv_predicted_minor": "GMV predicted",
         "gmv_ltv_minor": "GMV LTV", "contribution_realised_minor": "contribution realised",
         "contribution_predicted_minor": "contribution predicted",
         "contribution_ltv_minor": "contribution LTV", "cac_minor": "CAC",
         "commission_later_minor": "later commission"}
# Ratios on the snapshot's basis: the heading says which ("LTV/CAC (margin)").
RATIOS = {"ltv_cac": "LTV/CAC", "ltv_cac_shrunk": "LTV/CAC shrunk", "ltv_cac_low": "band 5 %",
          "ltv_cac_high": "band 95 %", "median_ltv_cac_shrunk": "median shrunk LTV/CAC"}
COUNTS = {"confidently_losing": "confidently losing", "gmv_ltv_cac": "LTV/CAC (GMV)"}
BASIS_NOTE = {"margin": "contribution to the mall = gross margin per category − commission on "
                        "later orders (FENRUN_MARGIN_*)",
              "gmv": "net revenue (GMV): a snapshot stored before the margin basis"}


def money_columns(frame: pd.DataFrame, currency: str, basis: str) -> pd.DataFrame:
    """Minor-unit columns shown as decimal strings of the currency (blank where a GMV-only
    snapshot has no contribution), ratios rounded, ratio headings naming `basis`."""
    out = frame.copy()
    for column in MONEY:
        if column in out:
            out[column] = ["" if pd.isna(v) else format_amount(int(v), currency)
                           for v in out[column]]
    ratios = {c: f"{name} ({basis})" for c, name in RATIOS.items()}
    return out.round({c: 2 for c in (*RATIOS, "gmv_ltv_cac") if c in out}).rename(
        columns={**MONEY, **ratios, **COUNTS})


def channel_chart(channels: pd.DataFrame, basis: str) -> alt.LayerChart:
    """Shrunk LTV/CAC per channel with its 5-95 % band; the dashed line is break-even."""
    bars = alt.Chart(channels).mark_bar(color="#9ecae1").encode(
        x=alt.X("ltv_cac_shrunk:Q", title=f"LTV/CAC ({basis} basis, shrunk), 5-95 % band"),
        y=alt.Y("channel:N", sort="-x", title=None),
        tooltip=["channel", "customers", alt.Tooltip("ltv_cac_shrunk:Q", format=".2f"),
                 alt.Tooltip("ltv_cac_low:Q", format=".2f"),
                 alt.Tooltip("ltv_cac_high:Q", format=".2f")])
    band = alt.Chart(channels).mark_rule(color="black").encode(
        x="ltv_cac_low:Q", x2="ltv_cac_high:Q", y=alt.Y("channel:N", sort="-x"))
    even = alt.Chart(pd.DataFrame({"x": [BREAK_EVEN]})).mark_rule(
        color="#d62728", strokeDash=[4, 4]).encode(x="x:Q")
    return bars + band + even


def _ratio_text(ratio: float | None) -> str:
    return f"{ratio:.2f}" if ratio is not None else "n/a"


def totals_row(report: PromoterValueReport) -> None:
    totals, currency = report.totals, report.currency
    cells = st.columns(7)
    cells[0].metric("promoters", f"{totals.promoters:,}")
    cells[1].metric("acquired customers", f"{totals.customers:,}")
    contribution = totals.contribution_ltv_minor
    cells[2].metric(f"contribution LTV ({currency})",
                    "n/a" if contribution is None else format_amount(contribution, currency))
    cells[3].metric(f"GMV LTV ({currency})", format_amount(totals.gmv_ltv_minor, currency))
    cells[4].metric(f"CAC ({currency})", format_amount(totals.cac_minor, currency))
    cells[5].metric(f"LTV/CAC ({report.basis})", _ratio_text(totals.ltv_cac))
    cells[6].metric("LTV/CAC (GMV)", _ratio_text(totals.gmv_ltv_cac))


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
    columns = ["promoter_id", "risk", "channel", "segment_name", "customers", "basis", *MONEY,
               "ltv_cac", "ltv_cac_shrunk", "ltv_cac_low", "ltv_cac_high", "gmv_ltv_cac"]
    st.dataframe(money_columns(shown.sort_values("ltv_cac_shrunk")[columns], report.currency,
                               report.basis).rename(columns={"segment_name": "segment"}),
                 hide_index=True)


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
    st.caption(f"**Basis: {report.basis}** — LTV/CAC, its shrunk value and band measure "
               f"{BASIS_NOTE.get(report.basis, report.basis)}; GMV figures beside. LTV = realised "
               f"+ predicted over the next {report.horizon_days} days of each acquired customer; "
               "CAC = commission on the customer's first order. Shrunk ratios pull promoters with "
               "few customers towards their channel; the band is the 5-95 % bootstrap range.")
    totals_row(report)

    losing = report.confidently_losing()
    if len(losing):
        st.error(f"**{len(losing):,} promoters cost more than their customers are worth**, "
                 f"with confidence (95 % end of the LTV/CAC band below 1, {report.basis} "
                 "basis); costliest first below.")
    basis = report.basis
    st.subheader("By segment")
    if report.has_segments:
        st.dataframe(money_columns(report.segments(), report.currency, basis), hide_index=True)
    else:
        st.caption("No segment column in this snapshot: train segments (`fenrun train "
                   "segments`) and run `fenrun ltv promoters` again.")
    st.subheader("By channel")
    left, right = st.columns([3, 2])
    left.altair_chart(channel_chart(report.channels, basis), width="stretch")
    # the LTV the ratio divides (contribution, or GMV on an old snapshot), then GMV beside it
    values = list(dict.fromkeys([report.value_column, "gmv_ltv_minor"]))
    right.dataframe(money_columns(report.channels[[
        "channel", "basis", "customers", *values, "cac_minor", "ltv_cac", "ltv_cac_low",
        "ltv_cac_high", "gmv_ltv_cac"]], report.currency, basis), hide_index=True)
    if len(losing):
        st.subheader("Confidently below break-even")
        st.dataframe(money_columns(losing[[
            "promoter_id", "channel", "segment_name", "customers", "basis", *values, "cac_minor",
            "ltv_cac_shrunk", "ltv_cac_high", "gmv_ltv_cac"]], report.currency, basis)
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
