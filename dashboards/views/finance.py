"""Finance: balances by party, what waits for a decision, the last ledger verification, and the
statements and bank files to download.

For the finance team. Payouts above the review limit (or held for risk review) and withdrawals
waiting for a reviewer are approved or rejected here, recorded as `dashboard:<name>` with the
reason given (both required). Everything is read and decided through `dashboards.finance_services`
(the settlement use cases the CLI and the API call); this page only lays it out. Bank files are
the one download with payees' clear names and accounts.
"""

from __future__ import annotations

import streamlit as st

from dashboards.finance_services import (
    bank_file,
    decide,
    load_balances,
    load_batches,
    load_last_check,
    load_periods,
    load_waiting,
    statement_files,
    verify_now,
)
from settlement.errors import SettlementError
from settlement.money import format_amount

FLASH = "finance_flash"


def ledger_section() -> None:
    st.subheader("Ledger verification")
    check = load_last_check()
    if check is None:
        st.warning("The ledger was never verified: run `fenrun ledger verify` or press the "
                   "button.")
    elif check.ok:
        st.success(f"Last verification {check.checked_at:%Y-%m-%d %H:%M} UTC by "
                   f"{check.checked_by}: every entry balances and every balance matches its "
                   "journal.")
    else:
        st.error(f"Last verification {check.checked_at:%Y-%m-%d %H:%M} UTC by "
                 f"{check.checked_by} found {check.problem_count} problem(s):\n\n"
                 + "\n".join(f"- {p}" for p in check.problems[:10]))
    if st.button("Verify the ledger now", key="verify"):
        verify_now(st.session_state.get("who", ""))
        st.rerun()


def balances_section() -> None:
    b = load_balances()
    st.subheader(f"Balances by party ({b.currency})")
    cells = st.columns(3)
    cells[0].metric("owed to promoters", format_amount(b.owed_minor, b.currency))
    cells[1].metric("payable to merchants", format_amount(b.payable_minor, b.currency))
    cells[2].metric("platform revenue", b.revenue)
    left, right = st.columns([3, 2])
    left.dataframe(b.promoters, hide_index=True)
    right.dataframe(b.merchants, hide_index=True)


def decision_form(waiting) -> None:
    options = [f"{row.kind} {row.id}: {row.promoter}, {row.amount} {row.currency}"
               for row in waiting.itertuples()]
    with st.form("decide"):
        choice = st.selectbox("payout or withdrawal", options)
        who = st.text_input("your name (recorded as who decided)", key="who")
        why = st.text_area("why (recorded with the decision)")
        approve = st.form_submit_button("Approve")
        reject = st.form_submit_button("Reject")
    if not (approve or reject):
        return
    if not who.strip() or not why.strip():
        st.error("Say who you are and why: both are recorded with the decision.")
        return
    row = waiting.iloc[options.index(choice)]
    try:
        st.session_state[FLASH] = decide(row["kind"], int(row["id"]), approve, who, why)
    except SettlementError as error:
        st.error(str(error))
        return
    st.rerun()


def waiting_section() -> None:
    st.subheader("Waiting for a decision")
    if FLASH in st.session_state:
        st.success(st.session_state.pop(FLASH))
    waiting = load_waiting()
    if waiting.empty:
        st.info("Nothing waits for a decision.")
        return
    st.dataframe(waiting, hide_index=True)
    decision_form(waiting)


def downloads_section() -> None:
    st.subheader("Statements and bank files")
    left, right = st.columns(2)
    periods = load_periods()
    if not periods:
        left.info("No statements yet: `fenrun statements build --period 2026-03`.")
    else:
        period = left.selectbox("statement period", periods)
        summary, lines, workbook = statement_files(period)
        left.download_button("statements (CSV)", summary, f"statements-{period}.csv",
                             "text/csv")
        left.download_button("statement lines (CSV)", lines, f"statement-lines-{period}.csv",
                             "text/csv")
        left.download_button("statements and lines (Excel)", workbook,
                             f"statements-{period}.xlsx")
    batches = load_batches()
    if not batches:
        right.info("No bank batch yet: `fenrun bank send`.")
        return
    labels = {f"{b.batch_id}: {b.line_count} line(s), {format_amount(b.total_minor, b.currency)}"
              f" {b.currency}, {'results in' if b.results_at else 'no results yet'}": b.batch_id
              for b in batches}
    chosen = labels[right.selectbox("bank batch", list(labels))]
    try:
        text = bank_file(chosen)
    except SettlementError as error:
        right.warning(f"bank file {chosen}: {error}")
        return
    right.download_button("bank file (CSV, payees in clear)", text, f"{chosen}.csv", "text/csv")


def main() -> None:
    st.title("Finance")
    try:
        load_balances()
    except SettlementError as error:
        st.info(f"No books to show: {error}")
        return
    ledger_section()
    balances_section()
    waiting_section()
    downloads_section()


main()
