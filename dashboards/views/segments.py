"""Segments: the groups the segments champion sorts promoters into, for the growth team's rules.

Each segment's stable id (rules refer to it: "segment 2 gets immediate settlement"), its readable
name, its share of promoters and its centre in the features' own units, with its LTV/CAC from the
newest promoter value snapshot when there is one. Read through `serving.segments`.
"""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from dashboards.services import load_promoter_value, load_segments, load_value_snapshots
from serving.errors import ServingError
from serving.promoter_value import PromoterValueReport
from serving.segments import SegmentCatalogue

BASIS_NOTE = {"margin": " (contribution: gross margin minus later commission)"}


def _value_report() -> PromoterValueReport | None:
    """The newest promoter value snapshot, if there is one (the page works without it)."""
    try:
        return load_promoter_value(None) if load_value_snapshots() else None
    except ServingError:
        return None


def share_chart(table: pd.DataFrame) -> alt.Chart:
    return alt.Chart(table).mark_bar(color="#9ecae1").encode(
        x=alt.X("share:Q", title="share of promoters", axis=alt.Axis(format="%")),
        y=alt.Y("segment:N", sort="-x", title=None, axis=alt.Axis(labelLimit=260)),
        tooltip=["segment_id", "segment", alt.Tooltip("share:Q", format=".1%")])


def segments_table(catalogue: SegmentCatalogue, value: PromoterValueReport | None
                   ) -> pd.DataFrame:
    table = catalogue.table(value)
    table["share"] = table["share"] * 100
    floats = table.select_dtypes("float").columns
    table[floats] = table[floats].round(2) + 0.0  # + 0.0: no "-0.00" for a centre at zero
    value_columns = [c for c in ("promoters", "customers", "ltv_cac", "gmv_ltv_cac") if c in table]
    first = ["segment_id", "segment", "share", *value_columns]  # what a reviewer reads first
    table = table[first + [c for c in table.columns if c not in first]]
    basis = "margin" if value is None else value.basis
    return table.rename(columns={"segment_id": "id", "share": "share %",
                                 "ltv_cac": f"LTV/CAC ({basis})", "gmv_ltv_cac": "LTV/CAC (GMV)"})


def main() -> None:
    st.title("Segments")
    try:
        catalogue = load_segments()
    except ServingError as error:
        st.info(f"{error}. Segments come from `fenrun train segments`.")
        return
    value = _value_report()
    st.caption(f"fenrun-segments champion v{catalogue.champion_version}. Ids are stable across "
               "retrains (rules can name them); the centre of each segment is in the features' "
               "own units (GMV and AOV in yuan, rates as fractions, tenure in days)."
               + (f" LTV/CAC from the promoter value snapshot of {value.as_of:%Y-%m-%d}, on the "
                  f"{value.basis} basis{BASIS_NOTE.get(value.basis, '')}, GMV beside."
                  if value is not None and value.has_segments else ""))
    st.altair_chart(share_chart(catalogue.table()), width="stretch")
    st.dataframe(segments_table(catalogue, value), hide_index=True)


main()
