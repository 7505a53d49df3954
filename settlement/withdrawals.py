"""Withdrawals: a promoter asks for part of its available balance; the ledger moves it step by step.

States and the entry each writes (see `settlement.ledger`, "How money moves"):
requested (available -> reserved: no longer available) -> approved (reserved -> in transit; by a
reviewer, or at once by "auto") -> paid (in transit -> paid, the fee to the platform) or failed
(in transit -> available), both from the bank's result file (`settlement.bank_batches`); a
reviewer may instead reject a requested one (reserved -> available). Nothing is edited: each
step is its own entry, with an id made of the withdrawal id and the step, so none is booked twice.

Rules (`WithdrawalRules`, from `FinanceSettings`): a minimum, a count per promoter and UTC day,
a fee (a rate of the amount, half-even to the fen, plus a fixed part), and a review limit: a
request above it, or the first to a payee never paid before, waits for a reviewer. Each request
carries the client's `request_key`: the same request sent again returns the first one (nothing is
reserved twice); the key reused for a different request is refused. Requests and decisions hold
the payout lock (`settlement.payouts.lock_disbursements`), so a withdrawal and a payout run never
spend the same available balance twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from fractions import Fraction
from typing import Any

from sqlalchemy import Connection, Engine, Row, func, select, update

from settlement import finance_tables as f
from settlement.config import FinanceSettings
from settlement.errors import NotFound, WithdrawalRefused
from settlement.ledger import AccountKind, EntryKind, JournalEntry, move_postings
from settlement.money import format_amount, half_even_minor, parse_amount, parse_rate
from settlement.payees import Payee, active_payee, get_payee
from settlement.payouts import MAX_NOTE_LENGTH, lock_disbursements
from settlement.read_accounts import promoter_balances
from settlement.repository import write_entries
from settlement.service import in_transaction
from settlement.state import Changes

MAX_REQUEST_KEY_CHARS = 128
MAX_ACTOR_CHARS = 100
AUTO = "auto"  # who approved a request below the review limit to a known payee


class WithdrawalStatus(StrEnum):
    REQUESTED = "requested"  # reserved, waiting for a reviewer
    APPROVED = "approved"  # in transit: goes (or went) out in a bank batch
    PAID = "paid"  # the bank paid it
    FAILED = "failed"  # the bank failed it: the money is available again
    REJECTED = "rejected"  # a reviewer said no: the money is available again


class WithdrawalHold(StrEnum):
    REVIEW_LIMIT = "review_limit"  # above the review limit
    NEW_PAYEE = "new_payee"  # the first withdrawal to a payee never paid before


@dataclass(frozen=True, slots=True)
class WithdrawalRules:
    """The configured rules in minor units of one currency."""

    currency: str
    minimum_minor: int
    daily_count: int
    review_limit_minor: int
    fee_rate: Fraction
    fee_fixed_minor: int

    @classmethod
    def of(cls, settings: FinanceSettings, currency: str) -> WithdrawalRules:
        """Parse the settings' amounts in `currency` (the plan's); a bad one names its variable."""
        def amount(text: str, name: str) -> int:
            return parse_amount(text, currency, f"FENRUN_{name.upper()}")

        return cls(currency, amount(settings.withdrawal_minimum, "withdrawal_minimum"),
                   settings.withdrawal_daily_count,
                   amount(settings.withdrawal_review_limit, "withdrawal_review_limit"),
                   parse_rate(settings.withdrawal_fee_rate, "FENRUN_WITHDRAWAL_FEE_RATE"),
                   amount(settings.withdrawal_fee_fixed, "withdrawal_fee_fixed"))

    def fee(self, amount_minor: int) -> int:
        """The fee kept from `amount_minor`: rate half-even to the fen, plus the fixed part."""
        return half_even_minor(self.fee_rate * amount_minor) + self.fee_fixed_minor


@dataclass(frozen=True, slots=True)
class Withdrawal:
    withdrawal_id: int
    request_key: str
    promoter_id: str
    payee_id: int
    currency: str
    amount_minor: int
    fee_minor: int
    status: str
    hold_reason: str | None
    requested_at: datetime
    requested_by: str
    decided_at: datetime | None
    decided_by: str | None
    note: str | None
    batch_id: str | None
    settled_at: datetime | None
    failure_reason: str | None

    @property
    def net_minor(self) -> int:
        """What the bank sends the promoter."""
        return self.amount_minor - self.fee_minor


def _withdrawal(row: Row[Any]) -> Withdrawal:
    m = row._mapping
    return Withdrawal(**{name: m[name] for name in Withdrawal.__slots__})  # type: ignore[arg-type]


def load_withdrawal(conn: Connection, withdrawal_id: int) -> Withdrawal:
    row = conn.execute(select(f.withdrawals)
                       .where(f.withdrawals.c.withdrawal_id == withdrawal_id)).first()
    if row is None:
        raise NotFound(f"withdrawal_id: no withdrawal {withdrawal_id}")
    return _withdrawal(row)


def list_withdrawals(conn: Connection, status: str | None = None, promoter_id: str | None = None,
                     limit: int = 10_000) -> list[Withdrawal]:
    """Withdrawals by id (of one status or promoter if named), at most `limit`."""
    c = f.withdrawals.c
    query = select(f.withdrawals).order_by(c.withdrawal_id).limit(limit)
    if status is not None:
        query = query.where(c.status == status)
    if promoter_id is not None:
        query = query.where(c.promoter_id == promoter_id)
    return [_withdrawal(row) for row in conn.execute(query)]


def step_entry(w: Withdrawal, step: EntryKind, at: datetime) -> JournalEntry:
    """The entry of one step of a withdrawal other than its payment (see the module docstring)."""
    source, target = _MOVES[step]
    return JournalEntry(f"withdrawal:{w.withdrawal_id}:{step.value}", step, at, None, None,
                        move_postings(w.promoter_id, w.currency, w.amount_minor, source, target))


_MOVES = {
    EntryKind.WITHDRAWAL_REQUESTED: (AccountKind.PROMOTER_AVAILABLE, AccountKind.PROMOTER_RESERVED),
    EntryKind.WITHDRAWAL_APPROVED: (AccountKind.PROMOTER_RESERVED, AccountKind.PROMOTER_IN_TRANSIT),
    EntryKind.WITHDRAWAL_REJECTED: (AccountKind.PROMOTER_RESERVED, AccountKind.PROMOTER_AVAILABLE),
    EntryKind.WITHDRAWAL_FAILED: (AccountKind.PROMOTER_IN_TRANSIT, AccountKind.PROMOTER_AVAILABLE),
}


def _book(conn: Connection, *entries: JournalEntry) -> None:
    changes = Changes()
    for entry in entries:
        changes.add_entry(entry)
    write_entries(conn, changes)


def _same_request(w: Withdrawal, promoter_id: str, amount_minor: int,
                  payee_id: int | None) -> bool:
    return (w.promoter_id == promoter_id and w.amount_minor == amount_minor
            and (payee_id is None or w.payee_id == payee_id))


def _payee_of(conn: Connection, promoter_id: str, payee_id: int | None) -> Payee:
    payee = active_payee(conn, promoter_id) if payee_id is None else get_payee(conn, payee_id)
    if payee is None:
        raise WithdrawalRefused(f"payee: {promoter_id} has no payee; add one first "
                                "(`fenrun payees add`)")
    if payee.promoter_id != promoter_id or payee.retired_at is not None:
        raise WithdrawalRefused(f"payee_id: {payee.payee_id} is not {promoter_id}'s active payee")
    return payee


def _count_today(conn: Connection, promoter_id: str, at: datetime) -> int:
    day = at.replace(hour=0, minute=0, second=0, microsecond=0)
    c = f.withdrawals.c
    return int(conn.execute(select(func.count()).select_from(f.withdrawals).where(
        c.promoter_id == promoter_id, c.requested_at >= day,
        c.requested_at < day + timedelta(days=1))).scalar_one())


def payee_was_paid(conn: Connection, payee_id: int) -> bool:
    """Whether a withdrawal to this payee was ever paid (else it is new: a reviewer looks)."""
    c = f.withdrawals.c
    return conn.execute(select(c.withdrawal_id).where(
        c.payee_id == payee_id, c.status == WithdrawalStatus.PAID).limit(1)).first() is not None


def _check_request(conn: Connection, rules: WithdrawalRules, promoter_id: str,
                   amount_minor: int, at: datetime) -> int:
    """Every rule of a new request, before anything is written; returns the fee."""
    cur = rules.currency
    if amount_minor < rules.minimum_minor:
        raise WithdrawalRefused(f"amount: {format_amount(amount_minor, cur)} is below the minimum "
                                f"withdrawal of {format_amount(rules.minimum_minor, cur)} {cur}")
    fee = rules.fee(amount_minor)
    if fee >= amount_minor:
        raise WithdrawalRefused(f"amount: the fee of {format_amount(fee, cur)} would take all of "
                                f"{format_amount(amount_minor, cur)}")
    count = _count_today(conn, promoter_id, at)
    if count >= rules.daily_count:
        raise WithdrawalRefused(f"promoter_id: {promoter_id} made {count} withdrawal requests on "
                                f"{at:%Y-%m-%d} (UTC), at most {rules.daily_count} a day")
    balance = promoter_balances(conn, cur, [promoter_id]).get(promoter_id)
    available = balance.available_minor if balance else 0
    if amount_minor > available:
        raise WithdrawalRefused(f"amount: {format_amount(amount_minor, cur)} is more than the "
                                f"{format_amount(max(available, 0), cur)} {cur} {promoter_id} "
                                "has available")
    return fee


def _check_text(field: str, value: str, limit: int) -> None:
    if not value or len(value) > limit:
        raise WithdrawalRefused(f"{field}: must be 1 to {limit} characters")


def _request(conn: Connection, rules: WithdrawalRules, promoter_id: str, amount_minor: int,
             request_key: str, requested_by: str, at: datetime,
             payee_id: int | None) -> Withdrawal:
    lock_disbursements(conn)
    existing = conn.execute(select(f.withdrawals)
                            .where(f.withdrawals.c.request_key == request_key)).first()
    if existing is not None:
        found = _withdrawal(existing)
        if not _same_request(found, promoter_id, amount_minor, payee_id):
            raise WithdrawalRefused(f"request_key: {request_key!r} was used for withdrawal "
                                    f"{found.withdrawal_id}, a different request")
        return found
    payee = _payee_of(conn, promoter_id, payee_id)
    fee = _check_request(conn, rules, promoter_id, amount_minor, at)
    hold: str | None = None
    if amount_minor > rules.review_limit_minor:
        hold = WithdrawalHold.REVIEW_LIMIT
    elif not payee_was_paid(conn, payee.payee_id):
        hold = WithdrawalHold.NEW_PAYEE
    status = WithdrawalStatus.REQUESTED if hold else WithdrawalStatus.APPROVED
    withdrawal_id = conn.execute(f.withdrawals.insert().values(
        request_key=request_key, promoter_id=promoter_id, payee_id=payee.payee_id,
        currency=rules.currency, amount_minor=amount_minor, fee_minor=fee, status=status,
        hold_reason=hold, requested_at=at, requested_by=requested_by,
        decided_at=None if hold else at, decided_by=None if hold else AUTO,
    ).returning(f.withdrawals.c.withdrawal_id)).scalar_one()
    made = load_withdrawal(conn, int(withdrawal_id))
    entries = [step_entry(made, EntryKind.WITHDRAWAL_REQUESTED, at)]
    if not hold:
        entries.append(step_entry(made, EntryKind.WITHDRAWAL_APPROVED, at))
    _book(conn, *entries)
    return made


def request_withdrawal(engine: Engine, rules: WithdrawalRules, promoter_id: str,
                       amount_minor: int, request_key: str, requested_by: str, at: datetime,
                       payee_id: int | None = None) -> Withdrawal:
    """Reserve `amount_minor` of the promoter's available balance for its payee (the active one
    unless named); a retry with the same `request_key` returns the first request unchanged."""
    _check_text("request_key", request_key, MAX_REQUEST_KEY_CHARS)
    _check_text("requested_by", requested_by, MAX_ACTOR_CHARS)
    return in_transaction(engine, lambda conn: _request(
        conn, rules, promoter_id, amount_minor, request_key, requested_by, at, payee_id))


def _decide(conn: Connection, withdrawal_id: int, approve: bool, decided_by: str, note: str,
            at: datetime) -> Withdrawal:
    lock_disbursements(conn)
    w = load_withdrawal(conn, withdrawal_id)
    if w.status != WithdrawalStatus.REQUESTED:
        raise WithdrawalRefused(f"withdrawal_id: withdrawal {withdrawal_id} is {w.status}, "
                                "not waiting for a reviewer")
    step = EntryKind.WITHDRAWAL_APPROVED if approve else EntryKind.WITHDRAWAL_REJECTED
    _book(conn, step_entry(w, step, at))
    status = WithdrawalStatus.APPROVED if approve else WithdrawalStatus.REJECTED
    conn.execute(update(f.withdrawals).where(f.withdrawals.c.withdrawal_id == withdrawal_id)
                 .values(status=status, decided_at=at, decided_by=decided_by, note=note))
    return load_withdrawal(conn, withdrawal_id)


def decide_withdrawal(engine: Engine, withdrawal_id: int, approve: bool, decided_by: str,
                      note: str, at: datetime) -> Withdrawal:
    """Approve (it goes out in the next bank batch) or reject (the money is available again) a
    requested withdrawal, recording who and why: a decision without a reason is refused."""
    _check_text("decided_by", decided_by, MAX_ACTOR_CHARS)
    _check_text("note", note.strip() if note else "", MAX_NOTE_LENGTH)
    return in_transaction(engine, lambda conn: _decide(conn, withdrawal_id, approve,
                                                       decided_by, note.strip(), at))
