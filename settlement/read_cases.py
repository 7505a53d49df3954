"""The read model's risk side: what each order credits each promoter now, what confirmed cases
reversed of it, and which orders are held. Re-exported by `settlement.read_model`.

An order's commission per promoter is its stored allocation (what remains after refunds); what a
case reversed is the sum of the promoter-side postings of the order's risk-reversal entries.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import NamedTuple

from sqlalchemy import Connection, select

from settlement import order_codec
from settlement import risk_tables as r
from settlement import tables as t
from settlement.ledger import AccountKind

IN_CHUNK = 5_000
_PROMOTER_SIDE = (AccountKind.PROMOTER_PENDING.value, AccountKind.CLAWBACK_RECEIVABLE.value)


class OrderCommissionRow(NamedTuple):
    """One promoter's commission on one order, now (all their levels on it together)."""

    order_id: str
    merchant_id: str
    currency: str
    promoter_id: str
    levels: tuple[int, ...]  # the promoter's levels on the order (1 = attributed)
    amount_minor: int
    released: bool  # the hold ended: the commission is (or was) available to pay out
    paid_at: object  # datetime of payment


def _chunks(items: Sequence[str]) -> Iterator[Sequence[str]]:
    for start in range(0, len(items), IN_CHUNK):
        yield items[start:start + IN_CHUNK]


def order_commissions(conn: Connection, order_ids: Iterable[str]) -> list[OrderCommissionRow]:
    """Each promoter's commission on each named order (orders not in the books are skipped)."""
    o = t.orders.c
    rows: list[OrderCommissionRow] = []
    for part in _chunks(sorted(set(order_ids))):
        query = select(o.order_id, o.merchant_id, o.currency, o.released_at, o.paid_at,
                       o.beneficiaries, o.allocation).where(o.order_id.in_(part))
        for order_id, merchant, currency, released_at, paid_at, shares, allocation in (
                conn.execute(query)):
            levels: dict[str, list[int]] = {}
            for promoter_id, level, _share in order_codec.decode_beneficiaries_raw(shares):
                levels.setdefault(promoter_id, []).append(int(level))
            for promoter_id, amount in sorted(
                    order_codec.decode_allocation(allocation).promoters.items()):
                rows.append(OrderCommissionRow(order_id, merchant, currency, promoter_id,
                                               tuple(sorted(levels.get(promoter_id, []))),
                                               int(amount), released_at is not None, paid_at))
    return rows


def risk_reversed(conn: Connection, order_ids: Iterable[str]) -> dict[tuple[str, str], int]:
    """(order, promoter) -> commission reversed by confirmed cases so far, in minor units."""
    e, p = r.risk_entries.c, t.postings.c
    found: dict[tuple[str, str], int] = {}
    for part in _chunks(sorted(set(order_ids))):
        query = (select(e.order_id, p.owner_id, p.amount_minor)
                 .select_from(r.risk_entries.join(t.postings, p.entry_id == e.entry_id))
                 .where(e.order_id.in_(part), p.account_kind.in_(_PROMOTER_SIDE)))
        for order_id, promoter_id, amount in conn.execute(query):
            key = (order_id, promoter_id)
            found[key] = found.get(key, 0) + int(amount)
    return found


def risk_entry_count(conn: Connection, order_id: str) -> int:
    """How many reversal entries the order has: the next one is numbered after them."""
    e = r.risk_entries.c
    return len(conn.execute(select(e.entry_id).where(e.order_id == order_id)).all())


def held_orders(conn: Connection, order_ids: Iterable[str]) -> set[str]:
    """The named orders whose hold is in force (not lifted)."""
    h = r.order_holds.c
    found: set[str] = set()
    for part in _chunks(sorted(set(order_ids))):
        found.update(conn.execute(select(h.order_id).where(
            h.order_id.in_(part), h.lifted_at.is_(None))).scalars())
    return found


def known_orders(conn: Connection, order_ids: Iterable[str]) -> set[str]:
    """The named orders that are in the books."""
    o = t.orders.c
    found: set[str] = set()
    for part in _chunks(sorted(set(order_ids))):
        found.update(conn.execute(select(o.order_id).where(o.order_id.in_(part))).scalars())
    return found
