"""Reading the books: balances per party and the checks finance runs before trusting them."""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, func, select

from settlement import tables as t
from settlement.ledger import AccountKind, readable_balance
from settlement.money import format_amount


@dataclass(frozen=True, slots=True)
class PromoterBalance:
    """What a promoter is owed, in minor units: `available` is net of clawbacks (may be < 0)."""

    pending_minor: int
    available_minor: int
    paid_minor: int
    clawback_minor: int


def raw_balances(conn: Connection) -> dict[tuple[str, str, str], int]:
    a = t.accounts.c
    rows = conn.execute(select(a.account_kind, a.owner_id, a.currency, a.balance_minor))
    return {(r.account_kind, r.owner_id, r.currency): r.balance_minor for r in rows}


def promoter_balances(conn: Connection, currency: str,
                      promoter_ids: list[str] | None = None) -> dict[str, PromoterBalance]:
    a = t.accounts.c
    query = select(a.account_kind, a.owner_id, a.balance_minor).where(
        a.currency == currency,
        a.account_kind.in_([AccountKind.PROMOTER_PENDING, AccountKind.PROMOTER_AVAILABLE,
                            AccountKind.PROMOTER_PAID, AccountKind.CLAWBACK_RECEIVABLE]))
    if promoter_ids is not None:
        query = query.where(a.owner_id.in_(promoter_ids))
    parts: dict[str, dict[str, int]] = defaultdict(dict)
    for row in conn.execute(query):
        parts[row.owner_id][row.account_kind] = readable_balance(row.account_kind,
                                                                 row.balance_minor)
    result = {}
    for owner, kinds in sorted(parts.items()):
        clawback = kinds.get(AccountKind.CLAWBACK_RECEIVABLE, 0)
        result[owner] = PromoterBalance(
            pending_minor=kinds.get(AccountKind.PROMOTER_PENDING, 0),
            available_minor=kinds.get(AccountKind.PROMOTER_AVAILABLE, 0) - clawback,
            paid_minor=kinds.get(AccountKind.PROMOTER_PAID, 0),
            clawback_minor=clawback,
        )
    return result


def books_currencies(conn: Connection) -> list[str]:
    """The currencies the books hold balances in, sorted; reports are printed in the first (an
    installation settles one currency; a second is listed apart, never added up). ["CNY"] for
    empty books."""
    currencies = sorted({currency for (_, _, currency) in raw_balances(conn)})
    return currencies or ["CNY"]


def balances_document(conn: Connection) -> dict[str, Any]:
    """The `fenrun balances --format json` document; amounts are decimal strings.

    An installation settles one currency (its plan's), so amounts are printed in it; a second
    currency would be listed under `other_currencies` rather than silently added up.
    """
    raw = raw_balances(conn)
    currencies = books_currencies(conn)
    main = currencies[0]
    promoters: dict[str, dict[str, str]] = {}
    for owner, balance in promoter_balances(conn, main).items():
        promoters[owner] = {
            "pending": format_amount(balance.pending_minor, main),
            "available": format_amount(balance.available_minor, main),
            "paid": format_amount(balance.paid_minor, main),
        }
    merchants = {
        owner: {"payable": format_amount(readable_balance(kind, amount), main)}
        for (kind, owner, currency), amount in sorted(raw.items())
        if kind == AccountKind.MERCHANT_PAYABLE and currency == main
    }
    revenue = sum(amount for (kind, _, currency), amount in raw.items()
                  if kind == AccountKind.PLATFORM_REVENUE and currency == main)
    document: dict[str, Any] = {
        "currency": main,
        "promoters": promoters,
        "merchants": merchants,
        "platform": {"revenue": format_amount(-revenue, main)},
    }
    if len(currencies) > 1:
        document["other_currencies"] = currencies[1:]
    return document


def verify_ledger(conn: Connection) -> list[str]:
    """Every problem found in the books; an empty list means they balance to the fen.

    Checks that each entry sums to zero, each stored balance equals the sum of its postings,
    every posting belongs to an entry, and each order's allocation adds up to what remains of it.
    """
    problems: list[str] = []
    p = t.postings.c
    unbalanced = conn.execute(
        select(p.entry_id, func.sum(p.amount_minor)).group_by(p.entry_id)
        .having(func.sum(p.amount_minor) != 0))
    problems += [f"entry {entry}: postings sum to {total}, not 0" for entry, total in unbalanced]
    orphans = conn.execute(
        select(func.count()).select_from(t.postings).where(
            ~p.entry_id.in_(select(t.journal_entries.c.entry_id)))).scalar_one()
    if orphans:
        problems.append(f"{orphans} postings belong to no journal entry")
    journal = {
        (r.account_kind, r.owner_id, r.currency): int(r.total)
        for r in conn.execute(
            select(p.account_kind, p.owner_id, p.currency, func.sum(p.amount_minor).label("total"))
            .group_by(p.account_kind, p.owner_id, p.currency))
    }
    stored = raw_balances(conn)
    for key in sorted(journal.keys() | stored.keys()):
        if journal.get(key, 0) != stored.get(key, 0):
            problems.append(f"account {'/'.join(key)}: balance {stored.get(key, 0)} but journal "
                            f"sums to {journal.get(key, 0)}")
    problems += _order_problems(conn)
    return problems


def _order_problems(conn: Connection) -> list[str]:
    problems = []
    o = t.orders.c
    for row in conn.execute(select(o.order_id, o.gross_minor, o.refunded_minor, o.allocation)):
        allocation = json.loads(row.allocation)
        parts = allocation["platform"] + allocation["merchant"] + sum(
            allocation["promoters"].values())
        if allocation["net"] != row.gross_minor - row.refunded_minor or parts != allocation["net"]:
            problems.append(f"order {row.order_id}: allocation does not add up to its net amount")
    return problems
