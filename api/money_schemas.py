"""Request and response bodies of the money-out routes: payees (always masked), withdrawals,
bank batches and statements. Amounts are decimal strings in `currency`, never floats."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from settlement.bank_batches import BankBatch, ResultTally
from settlement.money import format_amount
from settlement.payees import Payee
from settlement.statements import Statement, StatementLine
from settlement.withdrawals import MAX_REQUEST_KEY_CHARS, Withdrawal


class PayeeIn(BaseModel):
    method: Literal["wechat", "alipay", "bank_card"]
    holder_name: str = Field(min_length=1, max_length=100, description="stored encrypted")
    account: str = Field(min_length=1, max_length=100, description="stored encrypted")
    bank_name: str | None = Field(default=None, max_length=100, description="a card's bank")


class PayeeOut(BaseModel):
    """A payee as every answer shows it: name and account masked."""

    payee_id: int
    promoter_id: str
    method: str
    holder: str
    account: str
    bank_name: str | None
    created_at: datetime
    created_by: str
    active: bool

    @classmethod
    def of(cls, p: Payee) -> PayeeOut:
        return cls(payee_id=p.payee_id, promoter_id=p.promoter_id, method=p.method,
                   holder=p.holder_masked, account=p.account_masked, bank_name=p.bank_name,
                   created_at=p.created_at, created_by=p.created_by,
                   active=p.retired_at is None)


class PayeesOut(BaseModel):
    payees: list[PayeeOut]


class WithdrawalIn(BaseModel):
    promoter_id: str = Field(min_length=1, max_length=128)
    amount: str = Field(description="decimal string in the plan's currency, e.g. \"1200.00\"")
    request_key: str = Field(min_length=1, max_length=MAX_REQUEST_KEY_CHARS,
                             description="the client's key: the same request sent again "
                                         "returns the first one")
    payee_id: int | None = Field(default=None, description="default: the active payee")


class OwnWithdrawalIn(BaseModel):
    """A promoter's own request (`POST /v1/me/withdrawals`): the promoter is the key's."""

    amount: str = Field(description="decimal string in the plan's currency, e.g. \"1200.00\"")
    request_key: str = Field(min_length=1, max_length=MAX_REQUEST_KEY_CHARS,
                             description="the client's key: the same request sent again "
                                         "returns the first one")
    payee_id: int | None = Field(default=None, description="default: the active payee")


class DecisionIn(BaseModel):
    note: str = Field(min_length=1, max_length=2000, description="why (recorded with who)")


class WithdrawalOut(BaseModel):
    withdrawal_id: int
    promoter_id: str
    payee_id: int
    currency: str
    amount: str
    fee: str
    status: Literal["requested", "approved", "paid", "failed", "rejected"]
    hold_reason: str | None
    requested_at: datetime
    decided_by: str | None
    note: str | None
    batch_id: str | None
    failure_reason: str | None

    @classmethod
    def of(cls, w: Withdrawal) -> WithdrawalOut:
        return cls(withdrawal_id=w.withdrawal_id, promoter_id=w.promoter_id,
                   payee_id=w.payee_id, currency=w.currency,
                   amount=format_amount(w.amount_minor, w.currency),
                   fee=format_amount(w.fee_minor, w.currency),
                   status=w.status,  # type: ignore[arg-type]
                   hold_reason=w.hold_reason, requested_at=w.requested_at,
                   decided_by=w.decided_by, note=w.note, batch_id=w.batch_id,
                   failure_reason=w.failure_reason)


class WithdrawalsOut(BaseModel):
    withdrawals: list[WithdrawalOut]


class BankBatchOut(BaseModel):
    batch_id: str
    channel: str
    currency: str
    line_count: int
    total: str
    created_at: datetime
    created_by: str
    results_at: datetime | None

    @classmethod
    def of(cls, b: BankBatch) -> BankBatchOut:
        return cls(batch_id=b.batch_id, channel=b.channel, currency=b.currency,
                   line_count=b.line_count, total=format_amount(b.total_minor, b.currency),
                   created_at=b.created_at, created_by=b.created_by, results_at=b.results_at)


class BatchMadeOut(BaseModel):
    """The new batch (null: nothing to send) and what was left for the next one, and why."""

    batch: BankBatchOut | None
    skipped: list[str]


class BankBatchesOut(BaseModel):
    batches: list[BankBatchOut]


class ResultTallyOut(BaseModel):
    batch_id: str
    paid: int
    failed: int
    unchanged: int

    @classmethod
    def of(cls, t: ResultTally) -> ResultTallyOut:
        return cls(batch_id=t.batch_id, paid=t.paid, failed=t.failed, unchanged=t.unchanged)


class StatementBuildIn(BaseModel):
    period: str = Field(description="2026-03 (month), 2026-W11 (ISO week) or 2026-03-15 (day)")


class StatementOut(BaseModel):
    promoter_id: str
    period: str
    currency: str
    period_start: datetime
    period_end: datetime
    opening: str
    commission: str
    holds_released: str
    clawback: str
    payouts: str
    withdrawals: str
    closing: str

    @classmethod
    def of(cls, s: Statement) -> StatementOut:
        def money(value: int) -> str:
            return format_amount(value, s.currency)

        return cls(promoter_id=s.promoter_id, period=s.period, currency=s.currency,
                   period_start=s.period_start, period_end=s.period_end,
                   opening=money(s.opening_minor), commission=money(s.commission_minor),
                   holds_released=money(s.released_minor), clawback=money(s.clawback_minor),
                   payouts=money(s.payout_minor), withdrawals=money(s.withdrawal_minor),
                   closing=money(s.closing_minor))


class StatementsOut(BaseModel):
    statements: list[StatementOut]


class StatementLineOut(BaseModel):
    occurred_at: datetime
    kind: Literal["commission", "clawback", "released", "payout", "withdrawal"]
    order_id: str | None
    level: int | None
    amount: str
    entry_id: str

    @classmethod
    def of(cls, line: StatementLine, currency: str) -> StatementLineOut:
        return cls(occurred_at=line.occurred_at, kind=line.kind,  # type: ignore[arg-type]
                   order_id=line.order_id, level=line.level,
                   amount=format_amount(line.amount_minor, currency), entry_id=line.entry_id)


class PromoterStatementOut(BaseModel):
    """One promoter's statement of a period with every line (reconciled: opening + commission
    + clawback − payouts − withdrawals = closing)."""

    statement: StatementOut
    lines: list[StatementLineOut]
