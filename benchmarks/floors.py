"""What a settle run is measured against, on the same machine in the same run.

- the bare-insert reference: the journal rows (entries and postings) alone, inserted in as many
  transactions as settling used, through the same bulk path;
- the floor: every row settling wrote (events, rejections, promoters, touches, bindings, orders,
  entries, postings) sent the fastest way the driver knows (binary COPY / executemany) in as
  many transactions, plus the order updates (confirmations) spread over them; no reads, no rules.
  Balance upserts (a few hundred rows) and the release job are left out, so the floor is a
  little optimistic.

CPU is counted on both sides: this process (every thread) and, on PostgreSQL, the backends of the
benchmark's database (from /proc, when the server runs on this machine).
"""

from __future__ import annotations

import os
import resource
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, select, text

from settlement import tables as t
from settlement.bulk import bulk_insert
from settlement.db import create_db_engine, upgrade
from settlement.repository import (
    BINDING_COLUMNS,
    ENTRY_COLUMNS,
    EVENT_COLUMNS,
    ORDER_COLUMNS,
    POSTING_COLUMNS,
    PROMOTER_COLUMNS,
    REJECTION_COLUMNS,
    TOUCH_COLUMNS,
    _update_versioned,
)

INSERTED = [(t.events, EVENT_COLUMNS), (t.event_rejections, REJECTION_COLUMNS),
            (t.promoters, PROMOTER_COLUMNS), (t.touches, TOUCH_COLUMNS),
            (t.customer_bindings, BINDING_COLUMNS), (t.orders, ORDER_COLUMNS),
            (t.journal_entries, ENTRY_COLUMNS), (t.postings, POSTING_COLUMNS)]
# The order settling inserts them in (time order), where the key is not that order already.
INSERT_ORDER = {"events": "ts", "promoters": "joined_at", "customer_bindings": "bound_at",
                "orders": "paid_at", "journal_entries": "occurred_at"}
UNCONFIRMED = {"confirmed_at": None, "release_due_at": None, "released_at": None, "version": 1}


@dataclass(frozen=True)
class Cost:
    """Wall seconds and CPU seconds of one run (`server_cpu_s` None where not measurable)."""

    wall_s: float
    client_cpu_s: float
    server_cpu_s: float | None

    def cpu_us_per(self, orders: int) -> float:
        return (self.client_cpu_s + (self.server_cpu_s or 0.0)) * 1e6 / orders


def own_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def backend_cpu_s(engine: Engine) -> float | None:
    """CPU seconds used so far by the PostgreSQL backends serving `engine`'s database (None on
    SQLite, whose work is counted in this process, or when the server is not on this machine)."""
    if engine.dialect.name != "postgresql":
        return None
    with engine.connect() as conn:
        pids = conn.execute(text("SELECT pid FROM pg_stat_activity "
                                 "WHERE datname = current_database()")).scalars().all()
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return None
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def measured(engine: Engine, work: Callable[[], Any]) -> Cost:
    """Run `work` and count its wall time, this process's CPU and the backends' CPU."""
    server_before = backend_cpu_s(engine)
    cpu_before = own_cpu_s()
    started = time.perf_counter()
    work()
    wall = time.perf_counter() - started
    client = own_cpu_s() - cpu_before
    server_after = backend_cpu_s(engine)
    server = (server_after - server_before
              if server_before is not None and server_after is not None else None)
    return Cost(wall, client, server)


def written_rows(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    """The rows settling left in the books, per table, in insertion order."""
    found = {}
    with engine.connect() as conn:
        for table, columns in INSERTED:
            query = select(*(table.c[name] for name in columns))
            order = [table.c[INSERT_ORDER[table.name]]] if table.name in INSERT_ORDER else []
            order += list(table.primary_key.columns)
            found[table.name] = [tuple(row) for row in conn.execute(query.order_by(*order))]
    return found


def _slices(rows: list[Any], batches: int) -> list[list[Any]]:
    step = -(-len(rows) // batches) if rows else 1
    return [rows[b * step:(b + 1) * step] for b in range(batches)]


def bare_insert(url: str, rows: dict[str, list[tuple[Any, ...]]], batches: int) -> Cost:
    """The reference: journal entries and postings alone, `batches` transactions."""
    engine = create_db_engine(url)
    upgrade(engine)
    entries = _slices(rows["journal_entries"], batches)
    postings = _slices(rows["postings"], batches)

    def work() -> None:
        for b in range(batches):
            with engine.begin() as conn:
                bulk_insert(conn, t.journal_entries, ENTRY_COLUMNS, entries[b])
                bulk_insert(conn, t.postings, POSTING_COLUMNS, postings[b])

    cost = measured(engine, work)
    engine.dispose()
    return cost


def copy_floor(url: str, rows: dict[str, list[tuple[Any, ...]]], batches: int) -> Cost:
    """The floor: every row settling wrote, and its order confirmations, `batches` transactions."""
    engine = create_db_engine(url)
    upgrade(engine)
    index = {name: i for i, name in enumerate(ORDER_COLUMNS)}
    as_paid = [tuple(UNCONFIRMED.get(name, row[index[name]]) for name in ORDER_COLUMNS)
               for row in rows["orders"]]
    parts = {table.name: _slices(as_paid if table is t.orders else rows[table.name], batches)
             for table, _ in INSERTED}
    # Each confirmation goes with the batch that inserted its order (settling confirms a few
    # batches later; the cost of an update is the same).
    updates = [[{"order_id": row[index["order_id"]], "confirmed_at": row[index["confirmed_at"]],
                 "release_due_at": row[index["release_due_at"]], "version": 2}
                for row in part if row[index["confirmed_at"]] is not None]
               for part in _slices(rows["orders"], batches)]

    def work() -> None:
        for b in range(batches):
            with engine.begin() as conn:
                _one_batch(conn, parts, b, updates[b])

    cost = measured(engine, work)
    engine.dispose()
    return cost


def _one_batch(conn: Connection, parts: dict[str, list[list[Any]]], b: int,
               updates: list[dict[str, Any]]) -> None:
    for table, columns in INSERTED:
        bulk_insert(conn, table, columns, parts[table.name][b])
    _update_versioned(conn, t.orders, "order_id", updates)


def ratios_line(label: str, orders: int, settle: Cost, bare: Cost, floor: Cost) -> str:
    """One line with everything `make bench` promises for a path."""
    def cpu(cost: Cost) -> str:
        server = (f" + backend {cost.server_cpu_s * 1e6 / orders:,.0f}"
                  if cost.server_cpu_s is not None else "")
        return f"{cost.client_cpu_s * 1e6 / orders:,.0f}{server} µs"

    rate = orders / settle.wall_s
    return (f"{label}: {rate:,.0f} orders/s ({settle.wall_s:.1f}s); "
            f"ratio to bare INSERT {bare.wall_s / settle.wall_s:.2f} "
            f"({orders / bare.wall_s:,.0f} orders/s), "
            f"to the COPY floor {floor.wall_s / settle.wall_s:.2f} "
            f"({orders / floor.wall_s:,.0f} orders/s); "
            f"CPU per order: this path {cpu(settle)}, bare INSERT {cpu(bare)}, floor {cpu(floor)}")
