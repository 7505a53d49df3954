"""Promoter statements: what each promoter was owed at the start of a period, every movement in
it, and what it was owed at the end, reconciled with the ledger to the fen.

*Owed* is everything the books still owe a promoter: pending + available + reserved + in transit
− clawback receivable (a promoter's accounts other than `promoter_paid`). Movements come from
the postings on those accounts booked in [start, end), classified by their entry's kind:
- **commission** (by order and level): `paid`/`refunded` postings on pending (a refund before
  release reverses commission);
- **clawback**: `refunded` postings on clawback receivable (a refund after release);
- **holds released**: pending moving to available (shown; it does not change what is owed);
- **payouts**: what payout entries sent out (less payout lines the bank failed);
- **withdrawals**: what the bank paid on withdrawals (their fee included); a request, approval,
  rejection or failure only moves money between the promoter's own accounts.
closing = opening + commission + clawback − payouts − withdrawals, checked for every promoter
(`LedgerInvariantBroken` if not: a posting of a kind nobody classified would break it). Opening
and closing are read from the journal at the period's bounds, not from the movements.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import Connection, func, select

from settlement import order_codec
from settlement import tables as t
from settlement.errors import LedgerInvariantBroken
from settlement.ledger import AccountKind, EntryKind
from settlement.read_accounts import PROMOTER_ACCOUNTS
from settlement.read_model import payload_field
from settlement.statement_periods import Period

OWED_ACCOUNTS = tuple(k for k in PROMOTER_ACCOUNTS if k != AccountKind.PROMOTER_PAID.value)
_PENDING, _AVAILABLE = AccountKind.PROMOTER_PENDING.value, AccountKind.PROMOTER_AVAILABLE.value
_CLAWBACK, _PAID = AccountKind.CLAWBACK_RECEIVABLE.value, AccountKind.PROMOTER_PAID.value
_COMMISSION_ENTRIES = (EntryKind.PAID.value, EntryKind.REFUNDED.value)
_INTERNAL = frozenset(k.value for k in (
    EntryKind.WITHDRAWAL_REQUESTED, EntryKind.WITHDRAWAL_APPROVED, EntryKind.WITHDRAWAL_REJECTED,
    EntryKind.WITHDRAWAL_FAILED))
MAX_STATEMENT_LINES = 2_000_000  # one period of one installation; beyond it, use shorter cycles


class StatementLine(NamedTuple):
    promoter_id: str
    occurred_at: datetime
    kind: str  # commission | clawback | released | payout | withdrawal
    order_id: str | None
    level: int | None  # the promoter's level on the order (None: several, or not an order)
    amount_minor: int  # its effect on what is owed (released: the amount made available)
    entry_id: str


@dataclass(frozen=True, slots=True)
class Statement:
    promoter_id: str
    currency: str
    period: str
    period_start: datetime
    period_end: datetime
    opening_minor: int
    commission_minor: int
    released_minor: int
    clawback_minor: int  # <= 0
    payout_minor: int  # sent out (>= 0 unless failed lines outweigh)
    withdrawal_minor: int
    closing_minor: int

    def reconciles(self) -> bool:
        return self.closing_minor == (self.opening_minor + self.commission_minor
                                      + self.clawback_minor - self.payout_minor
                                      - self.withdrawal_minor)


def owed_before(conn: Connection, currency: str, before: datetime,
                promoter_ids: Sequence[str] | None = None) -> dict[str, int]:
    """promoter -> what the books owed it from entries booked strictly before `before`."""
    p, j = t.postings.c, t.journal_entries.c
    query = (select(p.owner_id, func.sum(p.amount_minor))
             .select_from(t.postings.join(t.journal_entries, j.entry_id == p.entry_id))
             .where(p.account_kind.in_(OWED_ACCOUNTS), p.currency == currency,
                    j.occurred_at < before)
             .group_by(p.owner_id))
    if promoter_ids is not None:
        query = query.where(p.owner_id.in_(promoter_ids))
    return {owner: -int(raw) for owner, raw in conn.execute(query)}


def _classify(entry_kind: str, account: str, raw: int) -> tuple[str, int] | None:
    """(line kind, effect on owed) of one posting, None if it moves nothing worth a line."""
    owed_effect = 0 if account == _PAID else -raw
    if entry_kind in _COMMISSION_ENTRIES:
        return ("commission" if account == _PENDING else "clawback", owed_effect)
    if entry_kind == EntryKind.RELEASED:
        return ("released", -raw) if account == _AVAILABLE else None
    if entry_kind in (EntryKind.PAYOUT, EntryKind.PAYOUT_FAILED):
        return ("payout", -raw) if account == _PAID else None  # + sent, − returned
    if entry_kind == EntryKind.WITHDRAWAL_PAID:
        return ("withdrawal", raw) if account != _PAID else None  # the in-transit debit
    if entry_kind in _INTERNAL:
        return None
    raise LedgerInvariantBroken(f"statement: entry kind {entry_kind!r} on {account} is not "
                                "classified")


def _movements(conn: Connection, currency: str, period: Period,
               promoter_ids: Sequence[str] | None) -> list[tuple[Any, ...]]:
    p, j = t.postings.c, t.journal_entries.c
    query = (select(p.owner_id, j.kind, p.account_kind, j.event_id, j.occurred_at,
                    p.amount_minor, j.entry_id)
             .select_from(t.postings.join(t.journal_entries, j.entry_id == p.entry_id))
             .where(p.account_kind.in_(PROMOTER_ACCOUNTS), p.currency == currency,
                    j.occurred_at >= period.start, j.occurred_at < period.end)
             .order_by(j.occurred_at, p.posting_id).limit(MAX_STATEMENT_LINES + 1))
    if promoter_ids is not None:
        query = query.where(p.owner_id.in_(promoter_ids))
    rows = [tuple(row) for row in conn.execute(query)]
    if len(rows) > MAX_STATEMENT_LINES:
        raise LedgerInvariantBroken(f"statement: more than {MAX_STATEMENT_LINES} postings in "
                                    f"{period.label}; build shorter periods")
    return rows


def _orders_of(conn: Connection, event_ids: set[str]) -> dict[str, str]:
    e = t.events.c
    found: dict[str, str] = {}
    ids = sorted(event_ids)
    for start in range(0, len(ids), 5_000):
        query = select(e.event_id, payload_field(conn, "order_id")).where(
            e.event_id.in_(ids[start:start + 5_000]))
        found.update({event_id: order_id for event_id, order_id in conn.execute(query)})
    return found


def _levels_of(conn: Connection, order_ids: set[str]) -> dict[tuple[str, str], int | None]:
    o = t.orders.c
    found: dict[tuple[str, str], int | None] = {}
    ids = sorted(order_ids)
    for start in range(0, len(ids), 5_000):
        for order_id, text in conn.execute(select(o.order_id, o.beneficiaries)
                                           .where(o.order_id.in_(ids[start:start + 5_000]))):
            for b in order_codec.decode_beneficiaries(text):
                key = (order_id, b.promoter_id)
                found[key] = None if key in found else b.level
    return found


def statement_lines(conn: Connection, currency: str, period: Period,
                    promoter_ids: Sequence[str] | None = None) -> list[StatementLine]:
    """Every movement line of the period, oldest first (see the module docstring)."""
    classified = []
    for owner, entry_kind, account, event_id, at, raw, entry_id in _movements(
            conn, currency, period, promoter_ids):
        kind_effect = _classify(entry_kind, account, raw)
        if kind_effect is not None:
            classified.append((owner, at, *kind_effect, event_id, entry_id))
    orders = _orders_of(conn, {row[4] for row in classified if row[4] is not None})
    levels = _levels_of(conn, set(orders.values()))
    lines = []
    for owner, at, kind, effect, event_id, entry_id in classified:
        order_id = orders.get(event_id) if event_id else None
        if kind == "released":
            order_id = entry_id.removeprefix("release:")
        level = levels.get((order_id, owner)) if order_id else None
        lines.append(StatementLine(owner, at, kind, order_id, level, effect, entry_id))
    return lines


def build_statements(conn: Connection, currency: str, period: Period,
                     promoter_ids: Sequence[str] | None = None
                     ) -> tuple[list[Statement], list[StatementLine]]:
    """The period's statement of every promoter owed something or moving money in it."""
    lines = statement_lines(conn, currency, period, promoter_ids)
    opening = owed_before(conn, currency, period.start, promoter_ids)
    closing = owed_before(conn, currency, period.end, promoter_ids)
    sums: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for line in lines:
        sums[line.promoter_id][line.kind] += line.amount_minor
    promoters = sorted(set(sums) | {p for p, v in opening.items() if v} |
                       {p for p, v in closing.items() if v})
    statements = [_statement(p, currency, period, opening.get(p, 0), sums[p],
                             closing.get(p, 0)) for p in promoters]
    return statements, lines


def _statement(promoter_id: str, currency: str, period: Period, opening: int,
               sums: dict[str, int], closing: int) -> Statement:
    statement = Statement(promoter_id, currency, period.label, period.start, period.end, opening,
                          sums["commission"], sums["released"], sums["clawback"],
                          sums["payout"], sums["withdrawal"], closing)
    if not statement.reconciles():
        raise LedgerInvariantBroken(
            f"statement {period.label} of {promoter_id}: opening {opening} + movements does not "
            f"equal closing {closing}")
    return statement


def by_promoter(lines: Iterable[StatementLine], promoter_id: str) -> list[StatementLine]:
    return [line for line in lines if line.promoter_id == promoter_id]
