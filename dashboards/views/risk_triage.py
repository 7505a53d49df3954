"""Risk triage: the risk team's work queue, a case's evidence, and the decisions, from the page.

First the cases by money at risk (flags grouped per promoter by the scan and the order-time
screen). A chosen case shows its flags with their evidence, a timeline of its orders and refunds,
the devices, IPs and accounts it shares drawn as a graph, and its trail; a reviewer takes it,
confirms fraud (the commission of its orders is reversed at every level and the promoter
suspended) or dismisses it with a note. Below, the anomaly model's flag list, ordered by the
commission a hold can still protect. Cases are read and decided through `dashboards.services`
(the same use cases as `fenrun risk ...`); the flags are a `fenrun risk flag` snapshot.
"""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from dashboards.services import decide, load_case, load_cases, load_flag_snapshots, load_triage
from serving.errors import ServingError
from serving.risk import TriageList
from serving.risk_cases import CaseDetail, graph_dot, shared_graph
from settlement.errors import SettlementError
from settlement.money import format_amount
from settlement.risk_domain import Case

COLUMNS = {"rank": "rank", "promoter_id": "promoter", "score": "anomaly score",
           "unpaid_minor": "unpaid", "clawback_minor": "claw-back owed", "paid_minor": "paid",
           "reasons": "most unusual features (robust sd from the median)"}
STATUSES = ("open", "investigating", "confirmed", "dismissed")
ACTIONS = {"investigate": "Take it (investigating)", "confirm": "Confirm fraud",
           "dismiss": "Dismiss (not fraud)"}


def triage_table(rows: pd.DataFrame, currency: str) -> pd.DataFrame:
    """The flagged rows as a reviewer reads them: amounts in the currency, score rounded."""
    out = rows[list(COLUMNS)].copy()
    for column in ("unpaid_minor", "clawback_minor", "paid_minor"):
        out[column] = [format_amount(int(v), currency) for v in out[column]]
    return out.round({"score": 3}).rename(columns=COLUMNS)


def cases_table(cases: list[Case]) -> pd.DataFrame:
    return pd.DataFrame([{
        "case": c.case_id, "promoter": c.promoter_id, "status": c.status,
        "money at risk": format_amount(c.money_at_risk_minor, c.currency),
        "orders": c.order_count, "rules": ", ".join(c.rules),
        "opened": f"{c.opened_at:%Y-%m-%d %H:%M}"} for c in cases])


def orders_table(detail: CaseDetail) -> pd.DataFrame:
    cur = detail.case.currency
    return pd.DataFrame([{
        "order": i.order.order_id, "customer": i.order.customer_id,
        "paid": f"{i.order.paid_at:%Y-%m-%d %H:%M}",
        "commission at risk": format_amount(i.commission_minor, cur),
        "reversed": format_amount(i.reversed_minor, cur),
        "state": "held" if i.held else ("released" if i.order.released_at else "pending"),
        "refunded": format_amount(i.order.refunded_minor, cur),
        "device": i.order.device_hash or "", "ip": i.order.ip_hash or ""}
        for i in detail.orders])


def timeline_chart(detail: CaseDetail) -> alt.Chart:
    frame = detail.timeline.assign(at=lambda f: pd.to_datetime(f["at"], utc=True))
    return alt.Chart(frame).mark_point(filled=True, size=90).encode(
        x=alt.X("at:T", title=None), y=alt.Y("order_id:N", title="order"),
        color=alt.Color("what:N", title=None), tooltip=["at:T", "what", "order_id"])


def _act(action: str, case_id: int) -> None:
    """Button callback: decide, and leave the outcome for the next run to show."""
    by = str(st.session_state.get("risk_by", "")).strip()
    note = str(st.session_state.get("risk_note", "")).strip() or None
    try:
        decision = decide(action, case_id, by, note)
    except SettlementError as error:
        st.session_state["risk_outcome"] = ("warning", str(error))
        return
    case = decision.case
    if not decision.changed:
        text = f"Case #{case.case_id} is already {case.status}: nothing changed."
    elif case.status == "confirmed":
        text = (f"Case #{case.case_id} confirmed by {by}: "
                f"{format_amount(decision.reversed_minor, case.currency)} {case.currency} "
                f"reversed in {len(decision.entries)} ledger entries"
                f"{', promoter suspended' if decision.suspended else ''}.")
    else:
        text = f"Case #{case.case_id} is now {case.status} ({by})."
    st.session_state["risk_outcome"] = ("success", text)


def actions(case: Case) -> None:
    st.subheader("Decide")
    st.text_input("your name (recorded on the trail)", key="risk_by")
    st.text_area("note: why (required to dismiss)", key="risk_note")
    cells = st.columns(3)
    for cell, (action, label) in zip(cells, ACTIONS.items(), strict=True):
        cell.button(label, key=f"risk_{action}", on_click=_act, args=(action, case.case_id),
                    disabled=case.status == "dismissed" or (action != "confirm"
                                                             and not case.active),
                    type="primary" if action == "confirm" else "secondary")


def case_view(case_id: int) -> None:
    detail = load_case(case_id)
    case, cur = detail.case, detail.case.currency
    cells = st.columns(4)
    cells[0].metric(f"{'recovered' if case.status == 'confirmed' else 'money at risk'} ({cur})",
                    format_amount(case.money_at_risk_minor, cur))
    cells[1].metric("status", case.status)
    cells[2].metric("orders", f"{len(detail.orders):,}")
    cells[3].metric("held orders", f"{sum(i.held for i in detail.orders):,}")
    st.subheader("Evidence")
    for flag in detail.flags:
        st.markdown(f"**{flag.rule}** · {flag.severity} · {flag.source} · "
                    f"{flag.flagged_at:%Y-%m-%d %H:%M}")
        st.json(flag.evidence, expanded=False)
    st.subheader("Orders and refunds")
    if detail.orders:
        st.altair_chart(timeline_chart(detail), width="stretch")
        st.dataframe(orders_table(detail), hide_index=True)
    st.subheader("What the case shares: devices, IPs, accounts")
    edges = shared_graph(detail)
    if edges:
        st.graphviz_chart(graph_dot(edges))
    else:
        st.caption("No device, IP or shared account recorded for these orders.")
    actions(case)
    st.subheader("Trail")
    st.dataframe(pd.DataFrame([{"at": f"{e.at:%Y-%m-%d %H:%M:%S}", "by": e.actor,
                                "action": e.action, "note": e.note or ""}
                               for e in detail.events]), hide_index=True)


def work_queue() -> None:
    st.header("Cases by money at risk")
    statuses = st.multiselect("status", STATUSES, default=["open", "investigating"])
    try:
        cases = load_cases(tuple(statuses))
    except SettlementError as error:
        st.info(f"No cases to work: {error}")
        return
    outcome = st.session_state.pop("risk_outcome", None)
    if outcome:
        getattr(st, outcome[0])(outcome[1])
    if not cases:
        st.info("No cases in this view: flags become cases when a scan records them "
                "(and when the order-time screen holds an order).")
        return
    st.dataframe(cases_table(cases), hide_index=True)
    by_id = {c.case_id: c for c in cases}
    chosen = st.selectbox("case", list(by_id), key="risk_case", format_func=lambda i: (
        f"#{i} {by_id[i].promoter_id}: "
        f"{format_amount(by_id[i].money_at_risk_minor, by_id[i].currency)} "
        f"{by_id[i].currency} ({by_id[i].status})"))
    if chosen is not None:
        case_view(int(chosen))


def summary(triage: TriageList) -> None:
    flagged = triage.flagged
    cells = st.columns(3)
    cells[0].metric("flagged promoters", f"{len(flagged):,} of {len(triage.scored):,}")
    cells[1].metric(f"unpaid commission at stake ({triage.currency})",
                    format_amount(triage.unpaid_at_stake_minor, triage.currency))
    cells[2].metric("with money to hold", f"{len(triage.by_money_at_stake()):,}")


def anomaly_flags() -> None:
    st.header("Anomaly model flags")
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
               "now (net of claw-backs owed). A score alone holds no payout: a case does, for "
               "the money it puts at risk.")
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


def main() -> None:
    st.title("Risk triage")
    work_queue()
    anomaly_flags()


main()
