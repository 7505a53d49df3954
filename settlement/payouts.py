"""Payout batches: pay promoters what has cleared its hold, with a person approving large sums.

A run first releases every hold due by its `as_of`, then pays each promoter whose available balance
(net of clawbacks) reaches the plan's `payout_minimum`. Sums above `review_limit` wait for
approval and stay in the available balance until then; `hold_reason` says why. Risk holds are
proportionate (issue 14): a run keeps back only the released commission that open risk cases put
at risk (`settlement.risk_cases.kept_back`), naming the cases in `kept_back_reason`, and pays the
rest; a score alone, without a case a person can read, holds nothing. Runs and approvals hold a
lock for their whole transaction, so two of them at once cannot pay the same balance twice.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, Row, select, text, update

from settlement import tables as t
from settlement.errors import NotFound, PayoutError
from settlement.ledger import EntryKind, JournalEntry, payout_postings
from settlement.money import format_amount
from settlement.payout_status import HoldReason, PayoutStatus
from settlement.plan import PlanBook
from settlement.reports import promoter_balances
from settlement.repository import write_entries
from settlement.risk_cases import kept_back
from settlement.service import in_transaction, release_due
from settlement.state import Changes

PAID, AWAITING_APPROVAL, REJECTED = (PayoutStatus.PAID, PayoutStatus.AWAITING_APPROVAL,
                                     PayoutStatus.REJECTED)
REVIEW_LIMIT, RISK_REVIEW = HoldReason.REVIEW_LIMIT, HoldReason.RISK_REVIEW
_PAYOUT_LOCK_KEY = 0x66656E72  # "fenr": one advisory lock for every payout transaction


@dataclass(frozen=True, slots=True)
class Payout:
    payout_id: int
    promoter_id: str
    currency: str
    amount_minor: int
    status: str
    as_of: datetime
    hold_reason: str | None = None  # REVIEW_LIMIT or RISK_REVIEW while it awaits a person
    decided_by: str | None = None  # who approved or rejected it (an API key's name, "cli")
    note: str | None = None  # why, as they said it
    kept_back_minor: int = 0  # left available for open risk cases (see kept_back_reason)
    kept_back_reason: str | None = None


def lock_disbursements(conn: Connection) -> None:
    """Hold the one lock of every transaction that spends available balances (payout runs and
    decisions, withdrawals, bank results) until the transaction ends."""
    # SQLite writers are already serialised by BEGIN IMMEDIATE; PostgreSQL needs the lock.
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PAYOUT_LOCK_KEY})


_lock = lock_disbursements


def _payout_entry(payout_id: int, promoter_id: str, currency: str, amount: int, clawback: int,
                  at: datetime, plan_version_id: str) -> JournalEntry:
    """A payout is booked under the plan version whose minimum and review limit admitted it."""
    return JournalEntry(f"payout:{payout_id}", EntryKind.PAYOUT, at, None, plan_version_id,
                        payout_postings(promoter_id, currency, amount, clawback))


def _hold_reason(amount: int, limit: int) -> str | None:
    return REVIEW_LIMIT if amount > limit else None


def _run(conn: Connection, plans: PlanBook, as_of: datetime, hold_cases: bool) -> list[Payout]:
    _lock(conn)
    plan = plans.version_at(as_of)
    waiting = set(conn.execute(select(t.payouts.c.promoter_id).where(
        t.payouts.c.status == AWAITING_APPROVAL)).scalars())
    kept = kept_back(conn, plan.currency) if hold_cases else {}
    now = datetime.now(UTC)
    changes = Changes()
    made: list[Payout] = []
    for promoter_id, balance in promoter_balances(conn, plan.currency).items():
        keep = kept.get(promoter_id)
        keep_minor = min(keep.amount_minor, max(balance.available_minor, 0)) if keep else 0
        amount = balance.available_minor - keep_minor
        if promoter_id in waiting or amount <= 0 or amount < plan.payout_minimum_minor:
            continue
        reason = _hold_reason(amount, plan.review_limit_minor)
        status = PAID if reason is None else AWAITING_APPROVAL
        why = keep.reason if keep and keep_minor else None
        payout_id = conn.execute(t.payouts.insert().values(
            promoter_id=promoter_id, currency=plan.currency, amount_minor=amount, status=status,
            as_of=as_of, created_at=now, decided_at=now if status == PAID else None,
            hold_reason=reason, kept_back_minor=keep_minor or None, kept_back_reason=why,
        ).returning(t.payouts.c.payout_id)).scalar_one()
        if status == PAID:
            entry = _payout_entry(payout_id, promoter_id, plan.currency, amount,
                                  balance.clawback_minor, as_of, plan.version_id)
            changes.add_entry(entry)
            conn.execute(update(t.payouts).where(t.payouts.c.payout_id == payout_id)
                         .values(entry_id=entry.entry_id))
        made.append(Payout(payout_id, promoter_id, plan.currency, amount, status, as_of,
                           reason, kept_back_minor=keep_minor, kept_back_reason=why))
    write_entries(conn, changes)
    return made


def run_payouts(engine: Engine, plans: PlanBook, as_of: datetime,
                hold_cases: bool = True) -> list[Payout]:
    """Release what is due by `as_of`, then pay (or queue for approval) every eligible promoter,
    keeping back what open risk cases put at risk unless `hold_cases` is off."""
    release_due(engine, plans, as_of)
    return in_transaction(engine, lambda conn: _run(conn, plans, as_of, hold_cases))


def _load(conn: Connection, payout_id: int) -> Payout:
    row = conn.execute(select(t.payouts).where(t.payouts.c.payout_id == payout_id)).first()
    if row is None:
        raise NotFound(f"payout_id: no payout {payout_id}")
    return _payout(row)


def _payout(row: Row[Any]) -> Payout:
    return Payout(row.payout_id, row.promoter_id, row.currency, row.amount_minor, row.status,
                  row.as_of, row.hold_reason, row.decided_by, row.note,
                  int(row.kept_back_minor or 0), row.kept_back_reason)


MAX_NOTE_LENGTH = 2000


def _decide(conn: Connection, plans: PlanBook, payout_id: int, approve: bool,
            decided_by: str, note: str | None) -> Payout:
    _lock(conn)
    payout = _load(conn, payout_id)
    if payout.status != AWAITING_APPROVAL:
        raise PayoutError(
            f"payout_id: payout {payout_id} is {payout.status}, not awaiting approval")
    now = datetime.now(UTC)
    if note is not None and len(note) > MAX_NOTE_LENGTH:
        raise PayoutError(f"note: {len(note)} characters, at most {MAX_NOTE_LENGTH}")
    values: dict[str, object] = {"status": PAID if approve else REJECTED, "decided_at": now,
                                 "decided_by": decided_by, "note": note}
    if approve:
        balance = promoter_balances(conn, payout.currency, [payout.promoter_id]).get(
            payout.promoter_id)
        available = balance.available_minor if balance else 0
        if balance is None or available < payout.amount_minor:
            raise PayoutError(
                f"payout_id: {payout.promoter_id} has {format_amount(available, payout.currency)}"
                f" available, less than the {format_amount(payout.amount_minor, payout.currency)}"
                " awaiting approval (a refund was clawed back); reject it and run payouts again"
            )
        changes = Changes()
        entry = _payout_entry(payout_id, payout.promoter_id, payout.currency,
                              payout.amount_minor, balance.clawback_minor, now,
                              plans.version_at(payout.as_of).version_id)
        changes.add_entry(entry)
        write_entries(conn, changes)
        values["entry_id"] = entry.entry_id
    conn.execute(update(t.payouts).where(t.payouts.c.payout_id == payout_id).values(**values))
    return _load(conn, payout_id)


def approve_payout(engine: Engine, plans: PlanBook, payout_id: int, decided_by: str = "cli",
                   note: str | None = None) -> Payout:
    """Pay a payout awaiting approval, recording who decided and why."""
    return in_transaction(engine, lambda conn: _decide(conn, plans, payout_id, True,
                                                       decided_by, note))


def reject_payout(engine: Engine, plans: PlanBook, payout_id: int, decided_by: str = "cli",
                  note: str | None = None) -> Payout:
    """Reject a payout awaiting approval (the balance stays available), recording who and why."""
    return in_transaction(engine, lambda conn: _decide(conn, plans, payout_id, False,
                                                       decided_by, note))


def list_payouts(conn: Connection, status: str | None = None) -> list[Payout]:
    query = select(t.payouts).order_by(t.payouts.c.payout_id)
    if status is not None:
        query = query.where(t.payouts.c.status == status)
    return [_payout(r) for r in conn.execute(query)]


def payouts_csv(payouts: list[Payout], payees: Mapping[int, str] | None = None) -> str:
    """The payouts finance reviews: one row per payout, amounts as decimal strings, why it was
    held and the (masked) payee its bank line went to (`settlement.bank_batches.payout_payees`;
    empty until it is sent in a bank batch)."""
    payees = payees or {}
    handle = io.StringIO(newline="")
    writer = csv.writer(handle)
    writer.writerow(["payout_id", "promoter_id", "currency", "amount", "status", "as_of",
                     "hold_reason", "decided_by", "payee"])
    for p in payouts:
        writer.writerow([p.payout_id, p.promoter_id, p.currency,
                         format_amount(p.amount_minor, p.currency), p.status,
                         p.as_of.strftime("%Y-%m-%dT%H:%M:%SZ"), p.hold_reason or "",
                         p.decided_by or "", payees.get(p.payout_id, "")])
    return handle.getvalue()


def export_csv(payouts: list[Payout], path: Path, payees: Mapping[int, str] | None = None) -> None:
    """`payouts_csv` written to `path`."""
    path.write_text(payouts_csv(payouts, payees), encoding="utf-8", newline="")
