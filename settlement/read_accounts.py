"""The read model's accounts side: balances per account and party, and holds still running.

Read through `settlement.read_model`, which re-exports these. Without `as_of`, balances come from
the `accounts` table (one row per account, kept equal to its journal by every flush and checked
by `verify_ledger`); with `as_of`, they are summed from the postings of entries booked by then.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import Connection, func, or_, select

from settlement import tables as t
from settlement.ledger import AccountKind, readable_balance

PROMOTER_ACCOUNTS = (AccountKind.PROMOTER_PENDING.value, AccountKind.PROMOTER_AVAILABLE.value,
                     AccountKind.PROMOTER_PAID.value, AccountKind.CLAWBACK_RECEIVABLE.value,
                     AccountKind.PROMOTER_RESERVED.value, AccountKind.PROMOTER_IN_TRANSIT.value)


class BalanceRow(NamedTuple):
    account_kind: AccountKind
    owner_id: str
    currency: str
    raw_minor: int  # sum of postings, debit positive; `readable_balance` turns it for people


class HoldRow(NamedTuple):
    """An order whose commission is still on hold at `as_of` (not released by then)."""

    order_id: str
    currency: str
    paid_at: datetime
    confirmed_at: datetime | None  # None: not confirmed yet, so no release date either
    release_due_at: datetime | None


@dataclass(frozen=True, slots=True)
class PromoterBalance:
    """What a promoter is owed, in minor units: `available` is net of clawbacks (may be < 0)."""

    pending_minor: int
    available_minor: int
    paid_minor: int
    clawback_minor: int
    withdrawing_minor: int = 0  # withdrawals requested or sent, not yet paid (reserved + transit)


def account_balances(conn: Connection, as_of: datetime | None = None, *,
                     kinds: tuple[str, ...] | None = None, currency: str | None = None,
                     owner_ids: list[str] | None = None) -> list[BalanceRow]:
    """Raw balance of every account (narrowed by kind, currency, owner), current or at `as_of`."""
    if as_of is None:
        a = t.accounts.c
        kind, owner, cur, amount = a.account_kind, a.owner_id, a.currency, a.balance_minor
        query = select(kind, owner, cur, amount)
    else:
        p, j = t.postings.c, t.journal_entries.c
        kind, owner, cur = p.account_kind, p.owner_id, p.currency
        query = (select(kind, owner, cur, func.sum(p.amount_minor))
                 .select_from(t.postings.join(t.journal_entries, j.entry_id == p.entry_id))
                 .where(j.occurred_at <= as_of).group_by(kind, owner, cur))
    if kinds is not None:
        query = query.where(kind.in_(kinds))
    if currency is not None:
        query = query.where(cur == currency)
    if owner_ids is not None:
        query = query.where(owner.in_(owner_ids))
    return [BalanceRow(AccountKind(k), o, c, int(v)) for k, o, c, v in conn.execute(query)]


def raw_balances(conn: Connection, as_of: datetime | None = None
                 ) -> dict[tuple[str, str, str], int]:
    """(account kind, owner, currency) -> raw balance, as `verify_ledger` compares them."""
    return {(row.account_kind.value, row.owner_id, row.currency): row.raw_minor
            for row in account_balances(conn, as_of)}


def promoter_balances(conn: Connection, currency: str, promoter_ids: list[str] | None = None,
                      as_of: datetime | None = None) -> dict[str, PromoterBalance]:
    """Each promoter's pending, available (net of clawbacks), paid and clawback, by promoter id."""
    parts: dict[str, dict[str, int]] = defaultdict(dict)
    for row in account_balances(conn, as_of, kinds=PROMOTER_ACCOUNTS, currency=currency,
                                owner_ids=promoter_ids):
        parts[row.owner_id][row.account_kind] = readable_balance(row.account_kind, row.raw_minor)
    result = {}
    for owner, kinds in sorted(parts.items()):
        clawback = kinds.get(AccountKind.CLAWBACK_RECEIVABLE, 0)
        result[owner] = PromoterBalance(
            pending_minor=kinds.get(AccountKind.PROMOTER_PENDING, 0),
            available_minor=kinds.get(AccountKind.PROMOTER_AVAILABLE, 0) - clawback,
            paid_minor=kinds.get(AccountKind.PROMOTER_PAID, 0),
            clawback_minor=clawback,
            withdrawing_minor=kinds.get(AccountKind.PROMOTER_RESERVED, 0)
            + kinds.get(AccountKind.PROMOTER_IN_TRANSIT, 0),
        )
    return result


def books_currencies(conn: Connection) -> list[str]:
    """The currencies the books hold balances in, sorted; reports are printed in the first (an
    installation settles one currency; a second is listed apart, never added up). ["CNY"] for
    empty books."""
    currencies = sorted({row.currency for row in account_balances(conn)})
    return currencies or ["CNY"]


def holds(conn: Connection, as_of: datetime) -> list[HoldRow]:
    """Orders paid by `as_of` whose hold had not been released by then, by release date
    (unconfirmed orders, with no release date yet, last)."""
    o = t.orders.c
    query = (select(o.order_id, o.currency, o.paid_at, o.confirmed_at, o.release_due_at)
             .where(o.paid_at <= as_of, or_(o.released_at.is_(None), o.released_at > as_of)))
    rows = []
    for order_id, currency, paid_at, confirmed_at, due in conn.execute(query):
        if confirmed_at is None or confirmed_at > as_of:  # confirmed later: not known yet
            confirmed_at = due = None
        rows.append(HoldRow(order_id, currency, paid_at, confirmed_at, due))
    rows.sort(key=lambda row: (row.release_due_at is None, row.release_due_at or as_of,
                               row.order_id))
    return rows
