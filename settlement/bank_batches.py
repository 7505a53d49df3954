"""Bank batches: what leaves the books goes out in numbered lines, and the bank's result books it.

A batch gathers every approved withdrawal not yet sent and every paid payout not yet sent (the
payout batch takes the same path), each line to the payee the money goes to: a withdrawal's own
payee, a payout's promoter's active payee (a payout whose promoter has no payee waits for the
next batch and is reported). A line carries the amount the bank sends (a withdrawal's amount net
of its fee) and a memo naming its source (and a payout's hold reason and approver).

A withdrawal or payout is written in one line ever (a unique key), so a batch made twice pays
nothing twice. The bank's result marks each line paid or failed, once: a paid withdrawal moves
from in transit to paid (fee to the platform), a failed one back to available; a failed payout
line is reversed (paid back to available); a paid payout was already booked when it was paid.
A result file is checked whole first (`settlement.payment_channels`): a line of another batch,
an unknown line, or a line the bank already settled the other way refuses it all, unchanged.
The same result read again changes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, Engine, Row, func, select, update

from settlement import finance_tables as f
from settlement import tables as t
from settlement.errors import InvalidBankFile, NotFound
from settlement.ledger import (
    AccountKind,
    EntryKind,
    JournalEntry,
    move_postings,
    withdrawal_paid_postings,
)
from settlement.money import format_amount
from settlement.payees import PayeeMethod, active_payee, payee_details
from settlement.payment_channels import BankFileLine, LineResult, PaymentChannel
from settlement.payout_status import PayoutStatus
from settlement.payouts import lock_disbursements
from settlement.personal_data import DataCipher
from settlement.repository import write_entries
from settlement.service import in_transaction
from settlement.state import Changes
from settlement.withdrawals import WithdrawalStatus, load_withdrawal, step_entry

MAX_BATCH_LINES = 5_000  # one upload; the rest goes in the next batch
WALLETS = {PayeeMethod.WECHAT: "WeChat Pay", PayeeMethod.ALIPAY: "Alipay"}


class LineStatus(StrEnum):
    SENT = "sent"
    PAID = "paid"
    FAILED = "failed"


class LineSource(StrEnum):
    WITHDRAWAL = "withdrawal"
    PAYOUT = "payout"


@dataclass(frozen=True, slots=True)
class BankBatch:
    batch_id: str
    channel: str
    currency: str
    line_count: int
    total_minor: int
    created_at: datetime
    created_by: str
    results_at: datetime | None


@dataclass(frozen=True, slots=True)
class BankLine:
    batch_id: str
    line_id: int
    source: str
    source_id: int
    promoter_id: str
    payee_id: int
    currency: str
    amount_minor: int
    memo: str
    status: str
    result_reason: str | None
    result_at: datetime | None


@dataclass(frozen=True, slots=True)
class BatchMade:
    batch: BankBatch | None  # None: nothing to send
    skipped: list[str]  # why some payouts were left for the next batch


@dataclass(frozen=True, slots=True)
class ResultTally:
    batch_id: str
    paid: int
    failed: int
    unchanged: int  # already settled the same way (a result file read twice)


def _batch(row: Row[Any]) -> BankBatch:
    m = row._mapping
    return BankBatch(**{name: m[name] for name in BankBatch.__slots__})  # type: ignore[arg-type]


def _line(row: Row[Any]) -> BankLine:
    m = row._mapping
    return BankLine(**{name: m[name] for name in BankLine.__slots__})  # type: ignore[arg-type]


def get_batch(conn: Connection, batch_id: str) -> BankBatch:
    row = conn.execute(select(f.bank_batches).where(f.bank_batches.c.batch_id == batch_id)).first()
    if row is None:
        raise NotFound(f"batch_id: no bank batch {batch_id!r}")
    return _batch(row)


def list_batches(conn: Connection, limit: int = 100) -> list[BankBatch]:
    """The newest batches first, at most `limit`."""
    query = select(f.bank_batches).order_by(f.bank_batches.c.created_at.desc(),
                                            f.bank_batches.c.batch_id.desc()).limit(limit)
    return [_batch(row) for row in conn.execute(query)]


def batch_lines(conn: Connection, batch_id: str) -> list[BankLine]:
    query = (select(f.bank_lines).where(f.bank_lines.c.batch_id == batch_id)
             .order_by(f.bank_lines.c.line_id))
    return [_line(row) for row in conn.execute(query)]


def _new_batch_id(conn: Connection, at: datetime) -> str:
    prefix = f"B{at:%Y%m%d}-"
    made = conn.execute(select(func.count()).select_from(f.bank_batches)
                        .where(f.bank_batches.c.batch_id.like(f"{prefix}%"))).scalar_one()
    return f"{prefix}{int(made) + 1:04d}"


def _withdrawal_lines(conn: Connection, currency: str, limit: int) -> list[dict[str, Any]]:
    c = f.withdrawals.c
    rows = conn.execute(select(c.withdrawal_id, c.promoter_id, c.payee_id, c.amount_minor,
                               c.fee_minor)
                        .where(c.status == WithdrawalStatus.APPROVED, c.batch_id.is_(None),
                               c.currency == currency)
                        .order_by(c.withdrawal_id).limit(limit))
    return [{"source": LineSource.WITHDRAWAL.value, "source_id": w_id, "promoter_id": promoter,
             "payee_id": payee, "amount_minor": amount - fee, "memo": f"withdrawal {w_id}"}
            for w_id, promoter, payee, amount, fee in rows]


def _payout_lines(conn: Connection, currency: str, limit: int
                  ) -> tuple[list[dict[str, Any]], list[str]]:
    p, line = t.payouts.c, f.bank_lines.c
    sent = select(line.source_id).where(line.source == LineSource.PAYOUT.value)
    rows = conn.execute(select(p.payout_id, p.promoter_id, p.amount_minor, p.hold_reason,
                               p.decided_by)
                        .where(p.status == PayoutStatus.PAID, p.currency == currency,
                               p.payout_id.not_in(sent))
                        .order_by(p.payout_id).limit(limit))
    lines, skipped = [], []
    for payout_id, promoter, amount, hold_reason, decided_by in rows:
        payee = active_payee(conn, promoter)
        if payee is None:
            skipped.append(f"payout {payout_id}: {promoter} has no payee (`fenrun payees add`)")
            continue
        memo = f"payout {payout_id}"
        if hold_reason:
            memo += f" (held: {hold_reason}; approved by {decided_by})"
        lines.append({"source": LineSource.PAYOUT.value, "source_id": payout_id,
                      "promoter_id": promoter, "payee_id": payee.payee_id,
                      "amount_minor": amount, "memo": memo[:140]})
    return lines, skipped


def _create(conn: Connection, currency: str, channel: str, created_by: str, at: datetime,
            limit: int) -> BatchMade:
    lock_disbursements(conn)
    lines = _withdrawal_lines(conn, currency, limit)
    payouts, skipped = _payout_lines(conn, currency, limit - len(lines))
    lines += payouts
    if not lines:
        return BatchMade(None, skipped)
    batch_id = _new_batch_id(conn, at)
    total = sum(line["amount_minor"] for line in lines)
    conn.execute(f.bank_batches.insert().values(
        batch_id=batch_id, channel=channel, currency=currency, line_count=len(lines),
        total_minor=total, created_at=at, created_by=created_by))
    conn.execute(f.bank_lines.insert(), [
        {**line, "batch_id": batch_id, "line_id": number, "currency": currency,
         "status": LineStatus.SENT.value}
        for number, line in enumerate(lines, start=1)])
    sent = [line["source_id"] for line in lines if line["source"] == LineSource.WITHDRAWAL]
    if sent:
        conn.execute(update(f.withdrawals).where(f.withdrawals.c.withdrawal_id.in_(sent))
                     .values(batch_id=batch_id))
    return BatchMade(get_batch(conn, batch_id), skipped)


def create_batch(engine: Engine, currency: str, channel: str, created_by: str, at: datetime,
                 limit: int = MAX_BATCH_LINES) -> BatchMade:
    """Gather what is approved and not yet sent into a new batch (None when there is nothing)."""
    if not 1 <= limit <= MAX_BATCH_LINES:
        raise ValueError(f"limit: {limit} must be between 1 and {MAX_BATCH_LINES}")
    return in_transaction(engine, lambda conn: _create(conn, currency, channel, created_by, at,
                                                       limit))


def batch_file_lines(conn: Connection, cipher: DataCipher, batch_id: str) -> list[BankFileLine]:
    """The batch's lines with the payees' clear details: for the channel, nothing else."""
    get_batch(conn, batch_id)
    out = []
    for line in batch_lines(conn, batch_id):
        details = payee_details(conn, cipher, line.payee_id)
        method = conn.execute(select(f.payees.c.method)
                              .where(f.payees.c.payee_id == line.payee_id)).scalar_one()
        bank = details.bank_name or WALLETS.get(PayeeMethod(method), method)
        out.append(BankFileLine(batch_id, line.line_id, details.holder_name, details.account,
                                bank, format_amount(line.amount_minor, line.currency),
                                line.currency, line.memo))
    return out


def send_batch(engine: Engine, cipher: DataCipher, channel: PaymentChannel, currency: str,
               created_by: str, at: datetime) -> tuple[BatchMade, str | None]:
    """Make a batch and hand it to the channel; returns it and where it went (None: nothing to
    send). A batch whose hand-over failed is sent again with `resend_batch`."""
    made = create_batch(engine, currency, channel.name, created_by, at)
    if made.batch is None:
        return made, None
    return made, resend_batch(engine, cipher, channel, made.batch.batch_id)


def resend_batch(engine: Engine, cipher: DataCipher, channel: PaymentChannel,
                 batch_id: str) -> str:
    """Hand an existing batch to the channel again (the same lines, the same ids)."""
    with engine.connect() as conn:
        lines = batch_file_lines(conn, cipher, batch_id)
    return channel.send(batch_id, lines)


def _settle_entry(line: BankLine, conn: Connection, status: str,
                  at: datetime) -> JournalEntry | None:
    if line.source == LineSource.PAYOUT:
        if status == LineStatus.PAID:
            return None  # booked as paid when the payout was made
        return JournalEntry(f"payout:{line.source_id}:failed", EntryKind.PAYOUT_FAILED, at,
                            None, None, move_postings(line.promoter_id, line.currency,
                                                      line.amount_minor,
                                                      AccountKind.PROMOTER_PAID,
                                                      AccountKind.PROMOTER_AVAILABLE))
    w = load_withdrawal(conn, line.source_id)
    if status == LineStatus.FAILED:
        return step_entry(w, EntryKind.WITHDRAWAL_FAILED, at)
    return JournalEntry(f"withdrawal:{w.withdrawal_id}:{EntryKind.WITHDRAWAL_PAID.value}",
                        EntryKind.WITHDRAWAL_PAID, at, None, None,
                        withdrawal_paid_postings(w.promoter_id, w.currency, w.amount_minor,
                                                 w.fee_minor))


def _to_apply(conn: Connection, results: Sequence[LineResult]) -> tuple[str, list[
        tuple[BankLine, LineResult]], int]:
    """The lines to settle, after every check on the whole file."""
    batch_id = results[0].batch_id
    try:
        get_batch(conn, batch_id)
    except NotFound:
        raise InvalidBankFile(f"batch_id: no bank batch {batch_id!r}") from None
    lines = {line.line_id: line for line in batch_lines(conn, batch_id)}
    todo, unchanged = [], 0
    for result in results:
        line = lines.get(result.line_id)
        if line is None:
            raise InvalidBankFile(f"line_id: batch {batch_id} has no line {result.line_id}")
        if line.status == result.status:
            unchanged += 1
        elif line.status != LineStatus.SENT:
            raise InvalidBankFile(f"line_id: line {line.line_id} of {batch_id} was already "
                                  f"settled {line.status}; the file says {result.status}")
        else:
            todo.append((line, result))
    return batch_id, todo, unchanged


def _apply(conn: Connection, results: Sequence[LineResult], at: datetime) -> ResultTally:
    lock_disbursements(conn)
    batch_id, todo, unchanged = _to_apply(conn, results)
    changes = Changes()
    for line, result in todo:
        entry = _settle_entry(line, conn, result.status, at)
        if entry is not None:
            changes.add_entry(entry)
        conn.execute(update(f.bank_lines).where(f.bank_lines.c.batch_id == batch_id,
                                                f.bank_lines.c.line_id == line.line_id)
                     .values(status=result.status, result_reason=result.reason, result_at=at))
        if line.source == LineSource.WITHDRAWAL:
            conn.execute(update(f.withdrawals)
                         .where(f.withdrawals.c.withdrawal_id == line.source_id)
                         .values(status=result.status, settled_at=at,
                                 failure_reason=result.reason))
        elif result.status == LineStatus.FAILED:
            conn.execute(update(t.payouts).where(t.payouts.c.payout_id == line.source_id)
                         .values(status=PayoutStatus.FAILED))
    write_entries(conn, changes)
    if todo:
        conn.execute(update(f.bank_batches).where(f.bank_batches.c.batch_id == batch_id)
                     .values(results_at=at))
    paid = sum(result.status == LineStatus.PAID for _, result in todo)
    return ResultTally(batch_id, paid, len(todo) - paid, unchanged)


def apply_results(engine: Engine, results: Sequence[LineResult], at: datetime) -> ResultTally:
    """Book the bank's verdict on a batch's lines, all or nothing (see the module docstring)."""
    if not results:
        raise InvalidBankFile("result file: no lines")
    return in_transaction(engine, lambda conn: _apply(conn, results, at))


def payout_payees(conn: Connection, payout_ids: Sequence[int]) -> dict[int, str]:
    """payout id -> the masked payee its bank line went to (payouts not sent yet are absent)."""
    line, payee = f.bank_lines.c, f.payees.c
    found: dict[int, str] = {}
    for start in range(0, len(payout_ids), 5_000):  # bounded IN lists
        query = (select(line.source_id, payee.method, payee.account_masked)
                 .select_from(f.bank_lines.join(f.payees, payee.payee_id == line.payee_id))
                 .where(line.source == LineSource.PAYOUT.value,
                        line.source_id.in_(payout_ids[start:start + 5_000])))
        found.update({int(source_id): f"{method} {masked}" for source_id, method, masked
                      in conn.execute(query)})
    return found
