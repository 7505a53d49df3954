"""The read model's risk side: what each order credits each promoter now, what confirmed cases
reversed of it, and which orders are held. Re-exported by `settlement.read_model`.

An order's commission per promoter is its stored allocation (what remains after refunds); what a
case reversed is the sum of the promoter-side postings of the order's risk-reversal entries.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
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
    paid_at: datetime


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


class CaseOrderRow(NamedTuple):
    """An order of a case as its timeline shows it, with the device and IP it was paid from."""

    order_id: str
    customer_id: str
    merchant_id: str
    currency: str
    paid_at: datetime
    confirmed_at: datetime | None
    released_at: datetime | None
    gross_minor: int
    refunded_minor: int
    device_hash: str | None
    ip_hash: str | None


class CaseRefundRow(NamedTuple):
    order_id: str
    ts: datetime
    amount_minor: int


def case_orders(conn: Connection, order_ids: Iterable[str]
                ) -> tuple[list[CaseOrderRow], list[CaseRefundRow]]:
    """The named orders and their refunds, oldest first. Payload fields (device, IP, the order a
    refund names) are read from the order events of the orders' time span only."""
    from settlement.read_model import payload_field  # the one JSON extraction

    o, e = t.orders.c, t.events.c
    ids = sorted(set(order_ids))
    orders = [row for part in _chunks(ids) for row in conn.execute(
        select(o.order_id, o.customer_id, o.merchant_id, o.currency, o.paid_at, o.confirmed_at,
               o.released_at, o.gross_minor, o.refunded_minor).where(o.order_id.in_(part)))]
    if not orders:
        return [], []
    since = min(row.paid_at for row in orders)
    until = max(row.paid_at for row in orders)
    named = payload_field(conn, "order_id")
    devices: dict[str, tuple[str | None, str | None]] = {}
    for part in _chunks(ids):
        for order_id, device, ip in conn.execute(
                select(named, payload_field(conn, "device_hash"), payload_field(conn, "ip_hash"))
                .where(e.type == "order_paid", e.status == "applied", e.ts >= since,
                       e.ts <= until, named.in_(part))):
            devices[order_id] = (device, ip)
    refunds = refund_amounts(conn, ids, since)
    rows = [CaseOrderRow(*row, *devices.get(row.order_id, (None, None))) for row in orders]
    return sorted(rows, key=lambda row: (row.paid_at, row.order_id)), refunds


def refund_amounts(conn: Connection, order_ids: Sequence[str], since: datetime
                   ) -> list[CaseRefundRow]:
    """Applied refunds of the named orders after `since`: what left clearing in each."""
    from settlement.read_model import payload_field

    e, j, p = t.events.c, t.journal_entries.c, t.postings.c
    named = payload_field(conn, "order_id")
    rows: list[CaseRefundRow] = []
    for part in _chunks(order_ids):
        query = (select(named, e.ts, -p.amount_minor)
                 .select_from(t.events.join(t.journal_entries, j.event_id == e.event_id)
                              .join(t.postings, p.entry_id == j.entry_id))
                 .where(e.type == "order_refunded", e.status == "applied", e.ts >= since,
                        p.account_kind == AccountKind.CLEARING.value, named.in_(part)))
        rows += [CaseRefundRow(order_id, ts, int(amount)) for order_id, ts, amount in
                 conn.execute(query)]
    return sorted(rows, key=lambda row: (row.ts, row.order_id))


def order_currency(conn: Connection, order_ids: Sequence[str]) -> str | None:
    """The currency of the first named order in the books (a case's orders share one)."""
    o = t.orders.c
    for part in _chunks(sorted(set(order_ids))):
        found = conn.execute(select(o.currency).where(o.order_id.in_(part)).limit(1)).first()
        if found is not None:
            return str(found[0])
    return None
