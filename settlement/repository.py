"""Reading and writing settlement state: bulk loads for a workspace, one flush per batch.

A flush writes a whole batch inside the caller's transaction: new rows in bulk, changed rows only
if nobody changed them since they were read (`version`), and balances as aggregated deltas per
account in key order, so concurrent writers never lose an increment and never deadlock on order.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, and_, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from settlement import order_codec
from settlement import tables as t
from settlement.attribution import TouchRecord
from settlement.bulk import (
    PreparedInsert,
    bind_processors,
    bulk_insert,
    driver_connection,
    prepare,
    send,
    sqlite_instant,
)
from settlement.ledger import AccountKey
from settlement.state import Changes, KnownEvent, OrderState, PromoterState

IN_CHUNK = 5000  # bound on ids sent in one lookup


class StaleState(Exception):
    """A row changed between read and write: the batch must be retried on fresh state."""


def chunks(items: Sequence[Any], size: int = IN_CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _dumps(value: object) -> str:
    return order_codec.dumps(value)


def _order_row(order: OrderState) -> tuple[Any, ...]:
    """The row of `orders`, in table-column order (`ORDER_COLUMNS`)."""
    lines = order.lines
    gross = refunded = 0
    for line in lines:
        gross += line.amount_minor
        refunded += line.refunded_minor
    return (order.order_id, order.customer_id, order.merchant_id, order.currency,
            order.plan_version_id, order.paid_at, order.confirmed_at, order.release_due_at,
            order.released_at, gross, refunded, order_codec.encode_lines(lines),
            order_codec.encode_beneficiaries(order.beneficiaries),
            order_codec.encode_allocation(order.allocation), order.version + 1)


def _changed_columns(order: OrderState, columns: set[str]) -> dict[str, Any]:
    """Only the columns a change touched, so a confirmation never re-encodes the lines."""
    row: dict[str, Any] = {"order_id": order.order_id, "version": order.version + 1}
    for name in sorted(columns):
        if name == "lines":
            row[name] = order_codec.encode_lines(order.lines)
        elif name == "allocation":
            row[name] = order_codec.encode_allocation(order.allocation)
        else:
            row[name] = getattr(order, name)
    return row


class _Lookup:
    """Lookups by a list of keys straight through the driver: one parameter, no SQL compiling.

    PostgreSQL gets `= ANY(array)`, SQLite `IN (SELECT value FROM json_each(?))`; instants come
    back as aware UTC datetimes on both.

    Arrays go to PostgreSQL as binary parameters (`%b`) here and in the batch updates below:
    psycopg builds a text array element by element in Python (about 9 µs per instant, 2 µs per
    id), and the binary form several times faster; the server reads the same values.
    """

    def __init__(self, raw: Any, postgres: bool) -> None:
        self.postgres = postgres
        self.raw = raw

    def rows(self, sql: str, ids: Sequence[str] | None, *params: Any) -> list[tuple[Any, ...]]:
        """Run `sql`, where `{ids}` stands for "is one of `ids`" and `{p}` for each of `params`."""
        if self.postgres:
            sql = sql.replace("{ids}", "= ANY(%b)").replace("{p}", "%s")  # %b: binary, see above
            values: tuple[Any, ...] = params
        else:
            sql = sql.replace("{ids}", "IN (SELECT value FROM json_each(?))").replace("{p}", "?")
            values = tuple(self.param(p) for p in params)
        if ids is not None:
            values = ((list(ids) if self.postgres else json.dumps(list(ids))), *values)
        cursor = self.raw.cursor()
        try:
            cursor.execute(sql, values)
            return cursor.fetchall()
        finally:
            cursor.close()

    def param(self, value: Any) -> Any:
        return sqlite_instant(value) if isinstance(value, datetime) else value

    def instant(self, value: Any) -> Any:
        """An aware UTC datetime from either driver's value (None stays None)."""
        if value is None:
            return None
        if isinstance(value, str):
            return datetime.fromisoformat(value).replace(tzinfo=UTC)
        return value if value.tzinfo is UTC else value.astimezone(UTC)


_ORDER_SELECT = (
    "SELECT order_id, customer_id, merchant_id, currency, plan_version_id, paid_at, "
    "confirmed_at, release_due_at, released_at, version, lines, beneficiaries, allocation "
    "FROM orders WHERE "
)


# An order held for risk review keeps its commission pending until the hold is lifted.
_NOT_HELD = ("AND NOT EXISTS (SELECT 1 FROM order_holds h WHERE h.order_id = orders.order_id "
             "AND h.lifted_at IS NULL) ")


def _order_from_tuple(lookup: _Lookup, row: tuple[Any, ...]) -> OrderState:
    instant = lookup.instant
    return OrderState(row[0], row[1], row[2], row[3], row[4], instant(row[5]),
                      confirmed_at=instant(row[6]), release_due_at=instant(row[7]),
                      released_at=instant(row[8]), version=row[9],
                      raw=(row[10], row[11], row[12]))


class DatabaseSource:
    """`StateSource` over one connection (inside the batch's transaction)."""

    def __init__(self, conn: Connection) -> None:
        self.lookup = _Lookup(driver_connection(conn), conn.dialect.name == "postgresql")

    @classmethod
    def over_driver(cls, raw: Any, postgres: bool) -> DatabaseSource:
        """A source reading through a bare driver connection (a pipelined writer's reader)."""
        source = cls.__new__(cls)
        source.lookup = _Lookup(raw, postgres)
        return source

    def load_events(self, event_ids: list[str]) -> dict[str, KnownEvent]:
        found: dict[str, KnownEvent] = {}
        for part in chunks(event_ids):
            for event_id, digest, status, reason, attempts in self.lookup.rows(
                    "SELECT event_id, payload_hash, status, reason, attempts FROM events "
                    "WHERE event_id {ids}", part):
                found[event_id] = KnownEvent(digest, status, reason, attempts)
        return found

    def load_promoters(self, promoter_ids: list[str]) -> dict[str, PromoterState]:
        found: dict[str, PromoterState] = {}
        for part in chunks(promoter_ids):
            for pid, parent, grade, joined, suspended, version in self.lookup.rows(
                    "SELECT promoter_id, parent_id, grade, joined_at, suspended, version "
                    "FROM promoters WHERE promoter_id {ids}", part):
                found[pid] = PromoterState(pid, parent, grade, self.lookup.instant(joined),
                                           bool(suspended), version)
        return found

    def load_orders(self, order_ids: list[str]) -> dict[str, OrderState]:
        found: dict[str, OrderState] = {}
        for part in chunks(order_ids):
            for row in self.lookup.rows(_ORDER_SELECT + "order_id {ids}", part):
                found[row[0]] = _order_from_tuple(self.lookup, row)
        return found

    def load_touches(
        self, customer_ids: list[str], since: datetime
    ) -> dict[str, list[TouchRecord]]:
        found: dict[str, list[TouchRecord]] = {}
        instant = self.lookup.instant
        for part in chunks(customer_ids):
            for customer_id, promoter_id, ts, touch_id in self.lookup.rows(
                    "SELECT customer_id, promoter_id, ts, touch_id FROM touches "
                    "WHERE customer_id {ids} AND ts > {p} ORDER BY touch_id", part, since):
                found.setdefault(customer_id, []).append(
                    TouchRecord(promoter_id, instant(ts), touch_id))
        return found

    def load_bindings(self, customer_ids: list[str]) -> dict[str, str]:
        found: dict[str, str] = {}
        for part in chunks(customer_ids):
            for customer_id, promoter_id in self.lookup.rows(
                    "SELECT customer_id, promoter_id FROM customer_bindings "
                    "WHERE customer_id {ids}", part):
                found[customer_id] = promoter_id
        return found

    def load_balance(self, key: AccountKey) -> int:
        rows = self.lookup.rows(
            "SELECT balance_minor FROM accounts WHERE account_kind = {p} AND owner_id = {p} "
            "AND currency = {p}", None, key.kind, key.owner_id, key.currency)
        return int(rows[0][0]) if rows else 0

    def load_tallies(self, owner_ids: list[str], periods: list[str] | None
                     ) -> dict[str, tuple[str, int]]:
        found: dict[str, tuple[str, int]] = {}
        sql = "SELECT tally_key, value, version FROM plan_tallies WHERE owner_id {ids}"
        params: tuple[Any, ...] = ()
        if periods is not None:
            sql += (" AND period = ANY({p})" if self.lookup.postgres
                    else " AND period IN (SELECT value FROM json_each({p}))")
            params = (periods if self.lookup.postgres else json.dumps(periods),)
        for chunk in chunks(owner_ids):
            for key, value, version in self.lookup.rows(sql, chunk, *params):
                found[key] = (value, int(version))
        return found

    def load_orders_due(self, as_of: datetime, limit: int) -> dict[str, OrderState]:
        rows = self.lookup.rows(
            _ORDER_SELECT + "release_due_at <= {p} AND released_at IS NULL " + _NOT_HELD +
            "ORDER BY release_due_at, order_id LIMIT {p}", None, as_of, limit)
        return {row[0]: _order_from_tuple(self.lookup, row) for row in rows}


EVENT_COLUMNS = ("event_id", "type", "ts", "payload_hash", "status", "reason", "payload",
                 "attempts")
REJECTION_COLUMNS = ("event_id", "attempt", "reason", "rejected_at")
PROMOTER_COLUMNS = ("promoter_id", "parent_id", "grade", "joined_at", "suspended", "version")
TOUCH_COLUMNS = ("event_id", "customer_id", "promoter_id", "ts", "kind", "channel")
BINDING_COLUMNS = ("customer_id", "promoter_id", "bound_at", "event_id")
ORDER_COLUMNS = ("order_id", "customer_id", "merchant_id", "currency", "plan_version_id",
                 "paid_at", "confirmed_at", "release_due_at", "released_at", "gross_minor",
                 "refunded_minor", "lines", "beneficiaries", "allocation", "version")
ENTRY_COLUMNS = ("entry_id", "kind", "occurred_at", "event_id", "plan_version_id")
POSTING_COLUMNS = ("entry_id", "account_kind", "owner_id", "currency", "amount_minor")
TALLY_COLUMNS = ("tally_key", "owner_id", "period", "value", "version")


@dataclass(frozen=True, slots=True)
class PreparedFlush:
    """One batch's writes, formatted for the driver (`prepare_flush`), not yet sent.

    Everything here is a copy taken when it was prepared: the workspace may go on changing (a
    pipelined writer decides the next batch meanwhile) without changing what this batch writes.
    """

    events: PreparedInsert | None
    event_rewrites: tuple[tuple[str, int, str, str | None, int], ...]
    rejections: PreparedInsert | None
    promoters: PreparedInsert | None
    promoter_updates: list[dict[str, Any]]
    inserts: tuple[PreparedInsert | None, ...]  # touches, bindings, orders
    order_updates: tuple[list[dict[str, Any]], ...]  # one list per set of changed columns
    entries: PreparedInsert | None
    postings: PreparedInsert | None
    balance_deltas: dict[AccountKey, int]
    tally_inserts: PreparedInsert | None  # plans v2 accumulators, new ones
    tally_updates: list[dict[str, Any]]  # and changed ones, at the version read


def prepare_flush(raw: Any, dialect: Any, changes: Changes) -> PreparedFlush:
    """Format one batch's changes for `write_flush` (the Python-heavy half of a flush).

    `raw` is a driver connection of the same database; on PostgreSQL it only lends its adapters.
    """
    def rows(table: Any, columns: Sequence[str], values: Sequence[Sequence[Any]]
             ) -> PreparedInsert | None:
        return prepare(raw, dialect, table, columns, values)

    stored = changes.stored_attempts
    decided = changes.events
    events = rows(t.events, EVENT_COLUMNS, [
        (event_id, event.type, event.ts, event.payload_hash, status, reason,
         event.raw or _dumps(event.payload), attempt)
        for event_id, (event, status, reason, attempt) in decided.items()
        if event_id not in stored
    ])
    rewrites = tuple((event_id, stored[event_id], decided[event_id].status,
                      decided[event_id].reason, decided[event_id].attempt)
                     for event_id in sorted(stored))
    now = datetime.now(UTC)
    tallies = sorted(changes.tallies.items())  # plans v2 accumulators
    by_columns: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for order_id, order in changes.changed_orders.items():
        if order_id not in changes.new_orders:
            columns = changes.changed_order_columns.get(order_id, set())
            by_columns.setdefault(tuple(sorted(columns)), []).append(
                _changed_columns(order, columns))
    return PreparedFlush(
        events=events,
        event_rewrites=rewrites,
        rejections=rows(t.event_rejections, REJECTION_COLUMNS,
                        [(event_id, attempt, reason, now)
                         for event_id, attempt, reason in changes.rejections]),
        promoters=rows(t.promoters, PROMOTER_COLUMNS, [
            (p.promoter_id, p.parent_id, p.grade, p.joined_at, p.suspended, 1)
            for p in changes.new_promoters.values()]),
        promoter_updates=[
            {"promoter_id": p.promoter_id, "suspended": p.suspended, "grade": p.grade,
             "version": p.version + 1}
            for p in changes.changed_promoters.values()
            if p.promoter_id not in changes.new_promoters],
        inserts=(rows(t.touches, TOUCH_COLUMNS, changes.touches),
                 rows(t.customer_bindings, BINDING_COLUMNS, changes.bindings),
                 rows(t.orders, ORDER_COLUMNS,
                      [_order_row(o) for o in changes.new_orders.values()])),
        order_updates=tuple(by_columns.values()),
        entries=rows(t.journal_entries, ENTRY_COLUMNS, [
            (e.entry_id, e.kind, e.occurred_at, e.event_id, e.plan_version_id)
            for e in changes.entries]),
        postings=rows(t.postings, POSTING_COLUMNS, [
            (e.entry_id, kind, owner_id, currency, amount_minor)
            for e in changes.entries
            for (kind, owner_id, currency), amount_minor in e.postings]),
        balance_deltas=dict(changes.balance_deltas),
        tally_inserts=rows(t.plan_tallies, TALLY_COLUMNS, [
            (key, owner, period, str(value), 1)
            for key, (owner, period, value, read) in tallies if read == 0]),
        tally_updates=[{"tally_key": key, "value": str(value), "version": read + 1}
                       for key, (_owner, _period, value, read) in tallies if read > 0],
    )


def write_flush(conn: Connection, prepared: PreparedFlush) -> None:
    """Send a prepared batch inside the caller's transaction; `StaleState` if a row it read was
    changed meanwhile (the caller rolls back: nothing of the batch stays)."""
    raw = driver_connection(conn)
    send(raw, prepared.events)
    e = t.events.c
    for event_id, attempts, status, reason, attempt in prepared.event_rewrites:
        # rare (redeliveries of rejected events): one UPDATE each, at the attempt count read
        updated = conn.execute(
            update(t.events)
            .where(and_(e.event_id == event_id, e.attempts == attempts))
            .values(status=status, reason=reason, attempts=attempt)).rowcount
        if updated != 1:
            raise StaleState(f"events: {event_id} was decided by someone else meanwhile")
    send(raw, prepared.rejections)
    send(raw, prepared.promoters)
    _update_versioned(conn, t.promoters, "promoter_id", prepared.promoter_updates)
    for insert in prepared.inserts:
        send(raw, insert)
    for rows in prepared.order_updates:
        _update_versioned(conn, t.orders, "order_id", rows)
    send(raw, prepared.entries)
    send(raw, prepared.postings)
    apply_balance_deltas(conn, prepared.balance_deltas)
    send(raw, prepared.tally_inserts)
    _update_versioned(conn, t.plan_tallies, "tally_key", prepared.tally_updates)


def flush(conn: Connection, changes: Changes) -> None:
    """Write one batch's changes; raise `StaleState` if a row it read was changed meanwhile."""
    write_flush(conn, prepare_flush(driver_connection(conn), conn.dialect, changes))


def _update_versioned(conn: Connection, table: Any, key: str, rows: list[dict[str, Any]]) -> None:
    """UPDATE rows only where the stored version is the one read (row["version"] - 1)."""
    if not rows:
        return
    rows = sorted(rows, key=lambda row: row[key])
    if conn.dialect.name == "postgresql":
        updated = _update_versioned_postgres(conn, table, key, rows)
    else:
        updated = _update_versioned_sqlite(conn, table, key, rows)
    if updated != len(rows):
        raise StaleState(f"{table.name}: a row changed since it was read")


_PG_ARRAY_TYPES = {"BIGINT": "bigint[]", "INTEGER": "integer[]", "BOOLEAN": "boolean[]",
                   "TEXT": "text[]"}


def _pg_array_type(column: Any) -> str:
    if isinstance(column.type, t.UTCDateTime):
        return "timestamptz[]"
    return _PG_ARRAY_TYPES.get(str(column.type), "text[]")


def _update_versioned_postgres(conn: Connection, table: Any, key: str,
                               rows: list[dict[str, Any]]) -> int:
    """One UPDATE ... FROM unnest(arrays) for the whole batch instead of one per row."""
    names = list(rows[0])
    arrays = ", ".join(f"%b::{_pg_array_type(table.c[name])}" for name in names)  # binary
    assignments = ", ".join(f"{name} = v.{name}" for name in names if name != key)
    sql = (f"UPDATE {table.name} AS o SET {assignments} FROM unnest({arrays}) "
           f"AS v({', '.join(names)}) WHERE o.{key} = v.{key} AND o.version = v.version - 1")
    columns = [[row[name] for row in rows] for name in names]
    with driver_connection(conn).cursor() as cursor:
        cursor.execute(sql, columns)
        return cursor.rowcount


def _update_versioned_sqlite(conn: Connection, table: Any, key: str,
                             rows: list[dict[str, Any]]) -> int:
    """One executemany straight through the driver (SQLAlchemy's own executemany spent its time
    in Python, in the writer thread, competing for the GIL with the rules). Values pass through
    each column type's bind processing, as bulk inserts do, so rows hold what SQLAlchemy would
    have written."""
    names = [name for name in rows[0] if name != key]
    processors = bind_processors(conn.dialect, table, [*names, key])
    assignments = ", ".join(f"{name} = ?" for name in names)
    sql = f"UPDATE {table.name} SET {assignments} WHERE {key} = ? AND version = ?"
    params = []
    for row in rows:
        values = [row[name] if process is None else process(row[name])
                  for name, process in zip([*names, key], processors, strict=True)]
        values.append(row["version"] - 1)
        params.append(values)
    cursor = driver_connection(conn).cursor()
    try:
        cursor.executemany(sql, params)
        return int(cursor.rowcount)
    finally:
        cursor.close()


def write_entries(conn: Connection, changes: Changes) -> None:
    """Insert journal entries and postings, then apply the per-account balance deltas."""
    bulk_insert(conn, t.journal_entries, ENTRY_COLUMNS, [
        (e.entry_id, e.kind, e.occurred_at, e.event_id, e.plan_version_id)
        for e in changes.entries
    ])
    bulk_insert(conn, t.postings, POSTING_COLUMNS, [
        (e.entry_id, p.account.kind, p.account.owner_id, p.account.currency, p.amount_minor)
        for e in changes.entries for p in e.postings
    ])
    apply_balance_deltas(conn, changes.balance_deltas)


def apply_balance_deltas(conn: Connection, deltas: dict[Any, int]) -> None:
    """Add each delta to its account, creating accounts on first use, in key order."""
    if conn.dialect.name == "postgresql":
        _apply_balance_deltas_postgres(conn, deltas)
        return
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


def _apply_balance_deltas_postgres(conn: Connection, deltas: dict[Any, int]) -> None:
    """One upsert from unnest(arrays): a batch touches thousands of accounts."""
    items = [(key, delta) for key, delta in sorted(deltas.items()) if delta]
    if not items:
        return
    sql = ("INSERT INTO accounts (account_kind, owner_id, currency, balance_minor) "
           "SELECT * FROM unnest(%b::text[], %b::text[], %b::text[], %b::bigint[]) "
           "ON CONFLICT (account_kind, owner_id, currency) "
           "DO UPDATE SET balance_minor = accounts.balance_minor + EXCLUDED.balance_minor")
    columns = ([key.kind for key, _ in items], [key.owner_id for key, _ in items],
               [key.currency for key, _ in items], [delta for _, delta in items])
    with driver_connection(conn).cursor() as cursor:
        cursor.execute(sql, columns)
