"""Rate suggestions: what the rate policy proposes, what it would cost, and whether it paid.

For the growth team (and finance, before anyone says yes): the pending suggestions with current →
proposed rate, the predicted change with its interval, the guardrail trail and the explanation;
approve or reject one from the page (recorded with the name and the reason given); the what-if
cost of everything pending over the books' last cycle, per segment, exact to the fen; and the
experiment's realised treated − control difference against the predicted uplift. The page lays
out what `dashboards.rates_data` reads through the services; it holds no rule of its own.
"""

from __future__ import annotations

import math

import altair as alt
import pandas as pd
import streamlit as st

from dashboards import rates_data as data
from serving.rate_decisions import approve_suggestions, reject_suggestions
from settlement.errors import NotFound, SettlementError
from settlement.money import format_amount
from settlement.rate_suggestions import SuggestionRow
from training.rate_experiment import ExperimentReport

DECIDED = "rate_decision"  # the last decision's message, shown once after the rerun


def _predicted(row: SuggestionRow, metric: str) -> str:
    change = row.predicted.get(metric)
    return "" if change is None else f"{change.delta} ({change.low} to {change.high})"


def pending_table(rows: list[SuggestionRow]) -> pd.DataFrame:
    """One line per pending suggestion, as a reviewer reads it."""
    return pd.DataFrame([{
        "promoter": r.promoter_id, "rate": f"{r.current_rate} → {r.proposed_rate}",
        "mode": r.mode, "margin / cycle": _predicted(r, "margin"),
        "commission / cycle": _predicted(r, "commission"), "GMV / cycle": _predicted(r, "gmv"),
        "guardrails": "; ".join(f"{g.name}: {g.outcome} → {g.rate_after}" for g in r.guardrails),
        "explanation": r.explanation, "suggestion": r.suggestion_id} for r in rows])


def _signed(minor: int, currency: str) -> str:
    return ("-" if minor < 0 else "+") + format_amount(abs(minor), currency)


def _amount(minor: int, currency: str) -> str:
    return ("-" if minor < 0 else "") + format_amount(abs(minor), currency)


def decision_form(rows: list[SuggestionRow]) -> None:
    """Approve or reject one pending suggestion; who and why are recorded with the decision."""
    st.subheader("Decide")
    labels = {r.suggestion_id: f"{r.promoter_id}: {r.current_rate} → {r.proposed_rate} "
                               f"({r.mode})" for r in rows}
    with st.form("decide"):
        chosen = st.selectbox("suggestion", list(labels), format_func=labels.__getitem__)
        who = st.text_input("your name (recorded as who decided)")
        why = st.text_area("why (required to reject)")
        approve, reject = st.columns(2)
        approved = approve.form_submit_button("Approve")
        rejected = reject.form_submit_button("Reject")
    if not (approved or rejected):
        return
    try:
        if approved:
            version, _ = approve_suggestions(data.books(), data.rate_settings(), [chosen],
                                             by=who, note=why or None)
            done = f"Approved {labels[chosen]} by {who}: plan version {version}"
        else:
            reject_suggestions(data.books(), [chosen], by=who, note=why)
            done = f"Rejected {labels[chosen]} by {who}: {why}"
    except SettlementError as error:
        st.error(str(error))
        return
    st.session_state[DECIDED] = done
    st.rerun()  # the lists below are read again: the decision shows at once


def what_if_section(marker: str) -> None:
    start, end = data.default_window(data.load_last_event())
    st.subheader("What the pending rates would have cost")
    try:
        report = data.load_what_if(start, end, marker)
    except SettlementError as error:
        st.info(str(error))
        return
    change, cur = report.change, report.change.currency
    st.caption(f"The books' last 30 days ({start:%Y-%m-%d} to {end:%Y-%m-%d}) re-settled in "
               f"scratch books with {len(change.rates)} promoters on their proposed rates: "
               "exact commission, not an estimate. The prediction sums the suggestions' "
               "predicted change per cycle (interval ends summed).")
    cells = st.columns(3)
    cells[0].metric(f"commission in the books ({cur})", _amount(change.total.baseline_minor, cur))
    cells[1].metric(f"under the pending rates ({cur})",
                    _amount(change.total.scenario_minor, cur),
                    delta=_signed(change.total.change_minor, cur), delta_color="inverse")
    margin = report.predicted.get("margin")
    cells[2].metric("predicted margin change / cycle",
                    "n/a" if margin is None else f"{margin[0]} ({margin[1]} to {margin[2]})")
    st.dataframe(pd.DataFrame([{
        "segment": line.key, "books": _amount(line.baseline_minor, cur),
        "pending rates": _amount(line.scenario_minor, cur),
        "change": _signed(line.change_minor, cur)} for line in change.by_segment]),
        hide_index=True)


def experiment_chart(report: ExperimentReport) -> alt.LayerChart:
    """Realised treated − control per metric with its interval, and the predicted uplift."""
    rows = []
    for c in report.comparisons:
        if c.metric == "retention":
            continue  # a share, not an amount: in the table below
        rows.append({"metric": c.metric, "kind": "realised", "value": c.difference,
                     "low": c.low, "high": c.high})
        if c.predicted is not None:
            rows.append({"metric": c.metric, "kind": "predicted", "value": c.predicted[0],
                         "low": c.predicted[1], "high": c.predicted[2]})
    frame = pd.DataFrame(rows)
    base = alt.Chart(frame).encode(
        y=alt.Y("metric:N", title=None), yOffset="kind:N",
        color=alt.Color("kind:N", scale=alt.Scale(domain=["realised", "predicted"],
                                                  range=["#1f77b4", "#ff7f0e"])))
    points = base.mark_point(filled=True, size=90).encode(
        x=alt.X("value:Q", title=f"treated − control per promoter per cycle ({report.currency})"),
        tooltip=["metric", "kind", alt.Tooltip("value:Q", format=".2f"),
                 alt.Tooltip("low:Q", format=".2f"), alt.Tooltip("high:Q", format=".2f")])
    bands = base.mark_rule(strokeWidth=2).encode(x="low:Q", x2="high:Q")
    zero = alt.Chart(pd.DataFrame({"x": [0]})).mark_rule(color="grey", strokeDash=[4, 4]
                                                         ).encode(x="x:Q")
    return bands + points + zero


def experiment_section(marker: str) -> None:
    st.subheader("Experiment: realised against predicted")
    try:
        report = data.load_experiment(marker)
    except NotFound as error:
        st.info(str(error))
        return
    st.caption(f"Experiment {report.experiment_id}: {report.treated} treated, {report.control} "
               f"control, {report.start:%Y-%m-%d} to {report.end:%Y-%m-%d}. {report.method}"
               + (f"; {report.note}" if report.note else "") + ".")
    st.altair_chart(experiment_chart(report), width="stretch")

    def num(value: float | None) -> str:
        return "" if value is None or math.isnan(value) else f"{value:.2f}"

    st.dataframe(pd.DataFrame([{
        "metric": c.metric, "treated": num(c.treated_mean), "control": num(c.control_mean),
        "difference": num(c.difference), "95 % interval": f"{num(c.low)} to {num(c.high)}",
        "predicted": "" if c.predicted is None else f"{c.predicted[0]:.2f}"}
        for c in report.comparisons]), hide_index=True)


def main() -> None:
    st.title("Rate suggestions")
    if DECIDED in st.session_state:
        st.success(st.session_state.pop(DECIDED))
    try:
        marker = data.marker()
    except SettlementError as error:
        st.info(f"No books to read: {error}")
        return
    rows = data.load_pending(marker)
    if not rows:
        st.info("No pending suggestion: `fenrun rates suggest --as-of T` makes them.")
    else:
        st.subheader(f"Pending suggestions ({len(rows)})")
        st.dataframe(pending_table(rows), hide_index=True)
        decision_form(rows)
    experiment_section(marker)
    if rows:  # last: re-settling a large book takes a while, the rest is drawn first
        what_if_section(marker)


main()
