"""Reading and writing settlement state: bulk loads for a workspace, one flush per batch.

A flush writes a whole batch inside the caller's transaction: new rows in bulk, changed rows only
if nobody changed them since they were read (`version`), and balances as aggregated deltas per
account in key order, so concurrent writers never lose an increment and never deadlock on order.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from datetime import datetime
from fractions import Fraction
from typing import Any

from sqlalchemy import Connection, and_, bindparam, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from settlement import tables as t
from settlement.attribution import TouchRecord
from settlement.splits import Allocation, Beneficiary
from settlement.state import Changes, KnownEvent, OrderLineState, OrderState, PromoterState

IN_CHUNK = 900  # bound on parameters in one IN (...) list


class StaleState(Exception):
    """A row changed between read and write: the batch must be retried on fresh state."""


def chunks(items: Sequence[Any], size: int = IN_CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _dumps(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


# Encoding of the JSON columns of `orders` -----------------------------------------------------

def encode_allocation(allocation: Allocation) -> str:
    return _dumps({"net": allocation.net_minor, "platform": allocation.platform_minor,
                   "merchant": allocation.merchant_minor, "promoters": allocation.promoters})


def decode_allocation(text: str) -> Allocation:
    raw = json.loads(text)
    return Allocation(raw["net"], raw["platform"], raw["merchant"], raw["promoters"])


def _order_row(order: OrderState) -> dict[str, Any]:
    return {
        "order_id": order.order_id, "customer_id": order.customer_id,
        "merchant_id": order.merchant_id, "currency": order.currency,
        "plan_version_id": order.plan_version_id, "paid_at": order.paid_at,
        "confirmed_at": order.confirmed_at, "release_due_at": order.release_due_at,
        "released_at": order.released_at, "gross_minor": order.gross_minor,
        "refunded_minor": order.refunded_minor,
        "lines": _dumps([[ln.sku, ln.category, ln.amount_minor, ln.refunded_minor]
                         for ln in order.lines]),
        "beneficiaries": _dumps([[b.promoter_id, b.level, f"{b.share.numerator}/"
                                  f"{b.share.denominator}"] for b in order.beneficiaries]),
        "allocation": encode_allocation(order.allocation),
        "version": order.version + 1,
    }


def _order_from_row(row: Any) -> OrderState:
    return OrderState(
        order_id=row.order_id, customer_id=row.customer_id, merchant_id=row.merchant_id,
        currency=row.currency, plan_version_id=row.plan_version_id, paid_at=row.paid_at,
        lines=[OrderLineState(*line) for line in json.loads(row.lines)],
        beneficiaries=tuple(Beneficiary(pid, level, Fraction(share))
                            for pid, level, share in json.loads(row.beneficiaries)),
        allocation=decode_allocation(row.allocation),
        confirmed_at=row.confirmed_at, release_due_at=row.release_due_at,
        released_at=row.released_at, version=row.version,
    )


class DatabaseSource:
    """`StateSource` over one connection (inside the batch's transaction)."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def load_events(self, event_ids: list[str]) -> dict[str, KnownEvent]:
        found: dict[str, KnownEvent] = {}
        e = t.events.c
        for part in chunks(event_ids):
            query = select(e.event_id, e.payload_hash, e.status, e.reason).where(
                e.event_id.in_(part))
            for row in self.conn.execute(query):
                found[row.event_id] = KnownEvent(row.payload_hash, row.status, row.reason)
        return found

    def load_promoters(self, promoter_ids: list[str]) -> dict[str, PromoterState]:
        found: dict[str, PromoterState] = {}
        p = t.promoters.c
        for part in chunks(promoter_ids):
            for row in self.conn.execute(select(t.promoters).where(p.promoter_id.in_(part))):
                found[row.promoter_id] = PromoterState(row.promoter_id, row.parent_id, row.grade,
                                                       row.joined_at, row.suspended, row.version)
        return found

    def load_orders(self, order_ids: list[str]) -> dict[str, OrderState]:
        found: dict[str, OrderState] = {}
        for part in chunks(order_ids):
            for row in self.conn.execute(select(t.orders).where(t.orders.c.order_id.in_(part))):
                found[row.order_id] = _order_from_row(row)
        return found

    def load_touches(
        self, customer_ids: list[str], since: datetime
    ) -> dict[str, list[TouchRecord]]:
        found: dict[str, list[TouchRecord]] = {}
        c = t.touches.c
        for part in chunks(customer_ids):
            query = (select(c.customer_id, c.promoter_id, c.ts, c.touch_id)
                     .where(c.customer_id.in_(part), c.ts > since).order_by(c.touch_id))
            for row in self.conn.execute(query):
                found.setdefault(row.customer_id, []).append(
                    TouchRecord(row.promoter_id, row.ts, row.touch_id))
        return found

    def load_bindings(self, customer_ids: list[str]) -> dict[str, str]:
        found: dict[str, str] = {}
        c = t.customer_bindings.c
        for part in chunks(customer_ids):
            for row in self.conn.execute(select(c.customer_id, c.promoter_id)
                                         .where(c.customer_id.in_(part))):
                found[row.customer_id] = row.promoter_id
        return found

    def load_orders_due(self, as_of: datetime, limit: int) -> dict[str, OrderState]:
        o = t.orders.c
        query = (select(t.orders).where(o.release_due_at <= as_of, o.released_at.is_(None))
                 .order_by(o.release_due_at, o.order_id).limit(limit))
        return {row.order_id: _order_from_row(row) for row in self.conn.execute(query)}


def flush(conn: Connection, changes: Changes) -> None:
    """Write one batch's changes; raise `StaleState` if a row it read was changed meanwhile."""
    if changes.events:
        conn.execute(t.events.insert(), [
            {"event_id": item["event"].event_id, "type": item["event"].type,
             "ts": item["event"].ts, "payload_hash": item["event"].payload_hash,
             "status": item["status"], "reason": item["reason"],
             "payload": _dumps(item["event"].payload)}
            for item in changes.events
        ])
    if changes.new_promoters:
        conn.execute(t.promoters.insert(), [
            {"promoter_id": p.promoter_id, "parent_id": p.parent_id, "grade": p.grade,
             "joined_at": p.joined_at, "suspended": p.suspended, "version": 1}
            for p in changes.new_promoters.values()
        ])
    _update_versioned(conn, t.promoters, "promoter_id", [
        {"promoter_id": p.promoter_id, "suspended": p.suspended, "version": p.version + 1}
        for p in changes.changed_promoters.values() if p.promoter_id not in changes.new_promoters
    ])
    if changes.touches:
        conn.execute(t.touches.insert(), changes.touches)
    if changes.bindings:
        conn.execute(t.customer_bindings.insert(), changes.bindings)
    if changes.new_orders:
        conn.execute(t.orders.insert(), [_order_row(o) for o in changes.new_orders.values()])
    _update_versioned(conn, t.orders, "order_id", [
        _order_row(o) for o in changes.changed_orders.values()
        if o.order_id not in changes.new_orders
    ])
    write_entries(conn, changes)


def _update_versioned(conn: Connection, table: Any, key: str, rows: list[dict[str, Any]]) -> None:
    """UPDATE rows only where the stored version is the one read (row["version"] - 1)."""
    if not rows:
        return
    rows = sorted(rows, key=lambda row: row[key])
    params = [{**row, "_key": row[key], "_expected": row["version"] - 1} for row in rows]
    values = {name: bindparam(name) for name in rows[0] if name != key}
    statement = (update(table)
                 .where(and_(table.c[key] == bindparam("_key"),
                             table.c.version == bindparam("_expected")))
                 .values(**values))
    result = conn.execute(statement, params)
    if result.rowcount != len(rows):
        raise StaleState(f"{table.name}: a row changed since it was read")


def write_entries(conn: Connection, changes: Changes) -> None:
    """Insert journal entries and postings, then apply the per-account balance deltas."""
    if changes.entries:
        conn.execute(t.journal_entries.insert(), [
            {"entry_id": e.entry_id, "kind": e.kind, "occurred_at": e.occurred_at,
             "event_id": e.event_id, "plan_version_id": e.plan_version_id}
            for e in changes.entries
        ])
        conn.execute(t.postings.insert(), [
            {"entry_id": e.entry_id, "account_kind": p.account.kind,
             "owner_id": p.account.owner_id, "currency": p.account.currency,
             "amount_minor": p.amount_minor}
            for e in changes.entries for p in e.postings
        ])
    apply_balance_deltas(conn, changes.balance_deltas)


def apply_balance_deltas(conn: Connection, deltas: dict[Any, int]) -> None:
    rows = [
        {"account_kind": key.kind, "owner_id": key.owner_id, "currency": key.currency,
         "balance_minor": delta}
        for key, delta in sorted(deltas.items()) if delta
    ]
    if not rows:
        return
    insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    statement = insert(t.accounts)
    statement = statement.on_conflict_do_update(
        index_elements=["account_kind", "owner_id", "currency"],
        set_={"balance_minor": t.accounts.c.balance_minor + statement.excluded.balance_minor},
    )
    conn.execute(statement, rows)
