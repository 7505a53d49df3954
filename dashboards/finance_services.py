"""The finance page's way to the books: the engine and the personal-data cipher built once per
process, reads cached for a few seconds, decisions through the same settlement use cases as
`fenrun payouts|withdrawals approve|reject` (the page records the person who decided and why).

Settings are read once, from the `FENRUN_` environment, the first time the page needs them.
After a decision every cached read is dropped, so the page shows the books as they now are.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import pandas as pd
import streamlit as st
from sqlalchemy import Engine

from settlement import db
from settlement.bank_batches import BankBatch, batch_file_lines, list_batches
from settlement.config import SettlementSettings
from settlement.ledger_checks import LedgerCheck, last_check, verify_and_record
from settlement.money import format_amount, parse_amount
from settlement.payment_channels import batch_file_text
from settlement.payout_status import PayoutStatus
from settlement.payouts import approve_payout, list_payouts, reject_payout
from settlement.personal_data import DataCipher, DataKeySettings, is_embedded, load_cipher
from settlement.plan_store import load_plan_book
from settlement.read_model import books_currencies, promoter_balances
from settlement.reports import balances_document
from settlement.statement_export import lines_csv, statements_csv, statements_xlsx
from settlement.statement_periods import parse_period
from settlement.statement_store import stored_periods
from settlement.statements import build_statements
from settlement.withdrawals import WithdrawalStatus, decide_withdrawal, list_withdrawals

TTL_S = 10
PAYOUT, WITHDRAWAL = "payout", "withdrawal"


@st.cache_resource
def books() -> Engine:
    """The books (an error naming the URL if they do not exist yet)."""
    return db.open_existing(SettlementSettings().database_url)


@st.cache_resource
def cipher() -> DataCipher:
    return load_cipher(DataKeySettings(),
                       embedded=is_embedded(SettlementSettings().database_url))


@dataclass(frozen=True)
class Balances:
    currency: str
    promoters: pd.DataFrame  # promoter, pending, available, withdrawing, paid (decimal strings)
    merchants: pd.DataFrame
    owed_minor: int  # to promoters, not yet paid (pending + available + withdrawing)
    payable_minor: int
    revenue: str


@st.cache_data(ttl=TTL_S, show_spinner="Reading the books…")
def load_balances() -> Balances:
    with books().connect() as conn:
        document = balances_document(conn)
        currency = books_currencies(conn)[0]
        rows = promoter_balances(conn, currency)
    promoters = pd.DataFrame(
        [{"promoter": p, "pending": format_amount(b.pending_minor, currency),
          "available": format_amount(b.available_minor, currency),
          "withdrawing": format_amount(b.withdrawing_minor, currency),
          "paid": format_amount(b.paid_minor, currency)} for p, b in rows.items()],
        columns=["promoter", "pending", "available", "withdrawing", "paid"])
    owed = sum(b.pending_minor + b.available_minor + b.withdrawing_minor for b in rows.values())
    merchants = pd.DataFrame([{"merchant": m, "payable": v["payable"]}
                              for m, v in document["merchants"].items()],
                             columns=["merchant", "payable"])
    payable = sum(parse_amount(v, currency) for v in merchants["payable"])
    return Balances(currency, promoters, merchants, owed, payable,
                    document["platform"]["revenue"])


@st.cache_data(ttl=TTL_S, show_spinner=False)
def load_waiting() -> pd.DataFrame:
    """Payouts awaiting approval and withdrawals waiting for a reviewer, oldest first."""
    with books().connect() as conn:
        payouts = list_payouts(conn, PayoutStatus.AWAITING_APPROVAL)
        withdrawals = list_withdrawals(conn, WithdrawalStatus.REQUESTED)
    rows = [{"kind": PAYOUT, "id": p.payout_id, "promoter": p.promoter_id,
             "amount": format_amount(p.amount_minor, p.currency), "currency": p.currency,
             "why it waits": p.hold_reason or "", "since": p.as_of} for p in payouts]
    rows += [{"kind": WITHDRAWAL, "id": w.withdrawal_id, "promoter": w.promoter_id,
              "amount": format_amount(w.amount_minor, w.currency), "currency": w.currency,
              "why it waits": w.hold_reason or "", "since": w.requested_at}
             for w in withdrawals]
    return pd.DataFrame(rows, columns=["kind", "id", "promoter", "amount", "currency",
                                       "why it waits", "since"])


def decide(kind: str, item_id: int, approve: bool, who: str, why: str) -> str:
    """Approve or reject a waiting payout or withdrawal as `dashboard:<who>`, with `why`;
    returns what happened (raises the settlement error when refused)."""
    actor = f"dashboard:{who.strip()}"
    engine = books()
    if kind == PAYOUT:
        with engine.connect() as conn:
            plans = load_plan_book(conn)
        decided = (approve_payout if approve else reject_payout)(engine, plans, item_id, actor,
                                                                 why.strip())
        status = decided.status
    else:
        status = decide_withdrawal(engine, item_id, approve, actor, why,
                                   datetime.now(UTC)).status
    st.cache_data.clear()
    return f"{kind} {item_id} is now {status} (decided by {actor})"


@st.cache_data(ttl=TTL_S, show_spinner=False)
def load_last_check() -> LedgerCheck | None:
    with books().connect() as conn:
        return last_check(conn)


def verify_now(who: str) -> LedgerCheck:
    _, check = verify_and_record(books(), f"dashboard:{who.strip() or 'finance page'}",
                                 datetime.now(UTC))
    st.cache_data.clear()
    return check


@st.cache_data(ttl=TTL_S, show_spinner=False)
def load_periods() -> list[str]:
    with books().connect() as conn:
        return stored_periods(conn)


@st.cache_data(ttl=TTL_S, show_spinner="Building the statement files…")
def statement_files(period: str) -> tuple[str, str, bytes]:
    """The period's statements CSV, lines CSV and Excel workbook, read from the ledger."""
    chosen = parse_period(period)
    with books().connect() as conn:
        currency = books_currencies(conn)[0]
        statements, lines = build_statements(conn, currency, chosen)
    return (statements_csv(statements), lines_csv(lines, currency),
            statements_xlsx(statements, lines, currency))


@st.cache_data(ttl=TTL_S, show_spinner=False)
def load_batches() -> list[BankBatch]:
    with books().connect() as conn:
        return list_batches(conn)


def bank_file(batch_id: str) -> str:
    """The batch file with payees' clear details: built when asked, never cached."""
    with books().connect() as conn:
        return batch_file_text(batch_file_lines(conn, cipher(), batch_id))

