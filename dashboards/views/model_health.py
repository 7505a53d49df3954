"""Model health: each registered model's champion and latest drift check; a red banner names the
critical features that drifted, and every checked column's score is shown against the threshold.

What drifted is decided by `training.drift` when the check runs and read by `serving.model_health`;
this page only lays it out.
"""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from dashboards.services import load_model_health
from serving.errors import ServingError
from serving.model_health import DriftCheck, DriftStatus, ModelHealth

STATUS_TEXT = {DriftStatus.DRIFTED: "🔴 drifted", DriftStatus.NO_DRIFT: "🟢 no drift",
               DriftStatus.NO_CHECK: "⚪ no drift check yet"}


def models_table(models: tuple[ModelHealth, ...]) -> pd.DataFrame:
    rows = []
    for health in models:
        check = health.drift
        rows.append({
            "model": health.name,
            "champion": f"v{health.champion_version}" if health.champion_version else "none",
            "drift": STATUS_TEXT[health.status],
            "drifted features": ", ".join(check.alerts) if check else "",
            "checked at": check.checked_at if check else None,
            "profiles as of": check.as_of if check else None,
            "checked champion": f"v{check.champion_version}" if check else "",
        })
    return pd.DataFrame(rows)


def alert_banner(models: tuple[ModelHealth, ...]) -> None:
    drifted = [m for m in models if m.status is DriftStatus.DRIFTED and m.drift is not None]
    if not drifted:
        return
    lines = [f"- **{m.name}**: {', '.join(m.drift.alerts)}" for m in drifted if m.drift]
    st.error("**Drift in critical features** (latest check above the threshold):\n"
             + "\n".join(lines), icon="🚨")


def _standing(alerted: bool, above_threshold: bool) -> str:
    return ("critical, alerted" if alerted else
            "above threshold" if above_threshold else "below threshold")


def scores_table(check: DriftCheck) -> pd.DataFrame:
    """Every checked column, highest score first (the order serving returns)."""
    return pd.DataFrame([{"column": s.column, "score": round(s.score, 4),
                          f"vs threshold {check.threshold:g}": _standing(s.alerted,
                                                                         s.above_threshold)}
                         for s in check.scores])


def scores_chart(check: DriftCheck) -> alt.LayerChart:
    scores = pd.DataFrame([{"column": s.column, "score": s.score,
                            "alert": _standing(s.alerted, s.above_threshold)}
                           for s in check.scores])
    bars = alt.Chart(scores).mark_bar().encode(
        x=alt.X("score:Q", title="drift score (normed Wasserstein)"),
        y=alt.Y("column:N", sort="-x", title=None),
        color=alt.Color("alert:N", scale=alt.Scale(
            domain=["critical, alerted", "above threshold", "below threshold"],
            range=["#d62728", "#ff7f0e", "#9ecae1"])),
        tooltip=["column", alt.Tooltip("score:Q", format=".4f"), "alert"])
    rule = alt.Chart(pd.DataFrame({"threshold": [check.threshold]})).mark_rule(
        color="black", strokeDash=[4, 4]).encode(x="threshold:Q")
    return bars + rule


def scores_section(health: ModelHealth, check: DriftCheck) -> None:
    st.subheader(health.name)
    if health.checked_current_champion is not False:
        stale = ""
    elif health.champion_version is None:
        stale = " — the model has no champion now"
    else:
        stale = f" — the champion is now v{health.champion_version}: run the check again"
    st.caption(f"Checked {check.checked_at:%Y-%m-%d %H:%M} UTC against champion "
               f"v{check.champion_version}, threshold {check.threshold:g} (dashed line){stale}. "
               f"Full report: `{check.report_uri}`")
    left, right = st.columns([3, 2])
    left.altair_chart(scores_chart(check), width="stretch")
    right.dataframe(scores_table(check), hide_index=True)


def main() -> None:
    st.title("Model health")
    try:
        models = load_model_health()
    except ServingError as error:
        st.warning(str(error))
        return
    if not models:
        st.info("No registered model yet: run `fenrun train`, then `fenrun drift --as-of TS`.")
        return
    alert_banner(models)
    st.dataframe(models_table(models), hide_index=True)
    for health in models:
        if health.drift is not None:
            scores_section(health, health.drift)


main()
