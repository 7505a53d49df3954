"""Reports on the books: the balances document and the checks finance runs before trusting them.

Balances are read through `settlement.read_model`; `verify_ledger` reads the raw tables on
purpose: it checks that the journal, the stored balances and the orders agree with each other.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Connection, func, select

from settlement import tables as t
from settlement.ledger import AccountKind, readable_balance
from settlement.money import format_amount
from settlement.read_model import (  # noqa: F401 - the names payouts and the CLI import here
    PromoterBalance,
    books_currencies,
    promoter_balances,
    raw_balances,
)


def balances_document(conn: Connection) -> dict[str, Any]:
    """The `fenrun balances --format json` document; amounts are decimal strings.

    An installation settles one currency (its plan's), so amounts are printed in it; a second
    currency would be listed under `other_currencies` rather than silently added up. A promoter
    with money withdrawing (requested or sent, not yet paid: no longer available) has it under
    `withdrawing`; the key is left out when it is zero, so books without withdrawals read as
    they always did. Likewise a merchant's `risk_recovered` (commission reversed on confirmed
    fraud, owed back to it) appears only when it is not zero.
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
        if balance.withdrawing_minor:
            promoters[owner]["withdrawing"] = format_amount(balance.withdrawing_minor, main)
    merchants = {
        owner: {"payable": format_amount(readable_balance(kind, amount), main)}
        for (kind, owner, currency), amount in sorted(raw.items())
        if kind == AccountKind.MERCHANT_PAYABLE and currency == main
    }
    for (kind, owner, currency), amount in sorted(raw.items()):
        # commission reversed on confirmed fraud, owed back to the merchant who funded it; left
        # out when zero, so books without such cases print as before
        if kind == AccountKind.RISK_RECOVERED and currency == main and amount:
            merchants.setdefault(owner, {"payable": format_amount(0, main)})[
                "risk_recovered"] = format_amount(readable_balance(kind, amount), main)
    revenue = sum(amount for (kind, _, currency), amount in raw.items()
                  if kind == AccountKind.PLATFORM_REVENUE and currency == main)
    providers = {
        owner: {"payable": format_amount(readable_balance(kind, amount), main)}
        for (kind, owner, currency), amount in sorted(raw.items())
        if kind == AccountKind.PAYMENT_PROVIDER_PAYABLE and currency == main
    }
    document: dict[str, Any] = {
        "currency": main,
        "promoters": promoters,
        "merchants": merchants,
        "platform": {"revenue": format_amount(-revenue, main)},
    }
    if providers:  # plans v2 payment channels; books without them print as before
        document["payment_providers"] = providers
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
            allocation["promoters"].values()) + allocation.get("provider", 0)
        if allocation["net"] != row.gross_minor - row.refunded_minor or parts != allocation["net"]:
            problems.append(f"order {row.order_id}: allocation does not add up to its net amount")
    return problems
