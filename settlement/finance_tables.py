"""Tables of money leaving the books: payees, withdrawals, bank batches and statements.

Declared on the settlement `metadata` (migration 0012 creates them) apart from `tables.py`, the
books' core. Idempotency lives in unique keys, as there: a withdrawal's `request_key`, one bank
line per withdrawal or payout (`source`, `source_id`), one statement per promoter and period.
Payee names and account numbers are stored sealed (`settlement.payees`), never in clear.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Index, Integer, String, Table, Text, UniqueConstraint

from settlement.schema_types import BigId, Id, UTCDateTime, metadata

payees = Table(
    "payees",
    metadata,
    Column("payee_id", BigId, primary_key=True, autoincrement=True),
    Column("promoter_id", Id, nullable=False),
    Column("method", String(16), nullable=False),  # PayeeMethod: wechat | alipay | bank_card
    Column("holder_name_sealed", Text, nullable=False),  # encrypted: personal data
    Column("account_sealed", Text, nullable=False),  # encrypted: personal data
    Column("bank_name", String(100)),  # the bank of a card (not personal); NULL for wallets
    # What every output but the bank file shows (`settlement.masking`), kept so listing payees
    # needs no key; erased with the sealed values.
    Column("holder_masked", String(120), nullable=False),
    Column("account_masked", String(120), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("created_by", String(100), nullable=False),
    Column("retired_at", UTCDateTime()),  # replaced by a newer payee; kept for the audit trail
    Index(None, "promoter_id"),
)

withdrawals = Table(
    "withdrawals",
    metadata,
    Column("withdrawal_id", BigId, primary_key=True, autoincrement=True),
    Column("request_key", String(128), nullable=False, unique=True),  # the client's retry key
    Column("promoter_id", Id, nullable=False),
    Column("payee_id", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("amount_minor", BigInteger, nullable=False),  # leaves the promoter's balance
    Column("fee_minor", BigInteger, nullable=False),  # of it, kept by the platform when paid
    Column("status", String(16), nullable=False),  # WithdrawalStatus
    Column("hold_reason", String(24)),  # why it waits for a reviewer: review_limit | new_payee
    Column("requested_at", UTCDateTime(), nullable=False),
    Column("requested_by", String(100), nullable=False),
    Column("decided_at", UTCDateTime()),
    Column("decided_by", String(100)),  # a reviewer, or "auto" below the review limit
    Column("note", Text),  # why, as the reviewer said it
    Column("batch_id", String(40)),  # the bank batch it was sent in
    Column("settled_at", UTCDateTime()),  # when the bank's result marked it paid or failed
    Column("failure_reason", Text),
    Index(None, "promoter_id", "requested_at"),
    Index(None, "status"),
)

bank_batches = Table(
    "bank_batches",
    metadata,
    Column("batch_id", String(40), primary_key=True),
    Column("channel", String(32), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("line_count", Integer, nullable=False),
    Column("total_minor", BigInteger, nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("created_by", String(100), nullable=False),
    Column("results_at", UTCDateTime()),  # when a result file was last applied
)

bank_lines = Table(
    "bank_lines",
    metadata,
    Column("batch_id", String(40), primary_key=True),
    Column("line_id", Integer, primary_key=True),
    Column("source", String(16), nullable=False),  # withdrawal | payout
    Column("source_id", BigInteger, nullable=False),
    Column("promoter_id", Id, nullable=False),
    Column("payee_id", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("amount_minor", BigInteger, nullable=False),  # what the bank sends (net of fees)
    Column("memo", String(140), nullable=False),
    Column("status", String(16), nullable=False),  # LineStatus: sent | paid | failed
    Column("result_reason", Text),
    Column("result_at", UTCDateTime()),
    UniqueConstraint("source", "source_id"),  # a withdrawal or payout is sent once, ever
)

statements = Table(
    "statements",
    metadata,
    Column("statement_id", BigId, primary_key=True, autoincrement=True),
    Column("promoter_id", Id, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("period", String(32), nullable=False),  # "2026-03", "2026-W11", "2026-03-15", ...
    Column("period_start", UTCDateTime(), nullable=False),
    Column("period_end", UTCDateTime(), nullable=False),  # exclusive
    Column("trigger", String(16), nullable=False),  # cycle | threshold
    Column("opening_minor", BigInteger, nullable=False),
    Column("commission_minor", BigInteger, nullable=False),
    Column("released_minor", BigInteger, nullable=False),
    Column("clawback_minor", BigInteger, nullable=False),
    Column("payout_minor", BigInteger, nullable=False),
    Column("withdrawal_minor", BigInteger, nullable=False),
    Column("closing_minor", BigInteger, nullable=False),
    Column("built_at", UTCDateTime(), nullable=False),
    Column("built_by", String(100), nullable=False),
    UniqueConstraint("promoter_id", "period_start", "period_end"),
    Index(None, "period"),
)

# Every run of `verify_ledger` through the CLI, the API or the finance page: the last one and its
# result are what finance looks at before trusting the books.
ledger_checks = Table(
    "ledger_checks",
    metadata,
    Column("check_id", BigId, primary_key=True, autoincrement=True),
    Column("checked_at", UTCDateTime(), nullable=False),
    Column("checked_by", String(100), nullable=False),
    Column("problem_count", Integer, nullable=False),
    Column("problems", Text, nullable=False),  # the first problems, one a line ("" when none)
    Index(None, "checked_at"),
)
