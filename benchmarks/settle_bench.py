"""Settlement throughput: orders/s on SQLite and PostgreSQL beside a bare INSERT of the same rows.

The figure to push up is the ratio: settling costs reads, rules and bookkeeping rows on top of the
journal itself, and commits and hot balance rows are the limit, not arithmetic. The baseline
inserts exactly the journal entries and postings the settle run wrote, in the same number of
batches, through the same bulk path (COPY on PostgreSQL, executemany on SQLite), committing once
per batch.
"""

from __future__ import annotations

import gc
import json
import os
import random
import resource
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, select, text

from settlement import tables as t
from settlement.bulk import bulk_insert
from settlement.db import create_db_engine, upgrade
from settlement.events import Event, parse_json_line
from settlement.plan import PlanBook, parse_plan_text
from settlement.repository import ENTRY_COLUMNS, POSTING_COLUMNS
from settlement.scratch import scratch_postgres
from settlement.service import apply_events, release_due, sort_events

PLAN = (Path(__file__).parents[1] / "settlement" / "examples" / "plan.yaml").read_text()
BATCH = 2000


def generate(orders: int, seed: int = 1) -> list[Event]:
    """A mall stream with `orders` orders: joins, 1-3 touches each, confirmations, 5% refunds."""
    rng = random.Random(seed)
    promoters = max(50, orders // 20)
    events: list[dict[str, Any]] = []
    for i in range(promoters):
        parent = f"P{rng.randrange(i)}" if i and rng.random() < 0.85 else None
        events.append({"event_id": f"j{i}", "type": "promoter_joined",
                       "ts": "2026-01-01T00:00:00Z", "promoter_id": f"P{i}",
                       **({"parent_id": parent} if parent else {})})
    seconds = 86_400 * 60
    for n in range(orders):
        base = 86_400 + n * seconds // orders
        customer = f"C{rng.randrange(orders // 2 or 1)}"
        for k in range(rng.randint(1, 3)):
            events.append({"event_id": f"t{n}-{k}", "type": "touch", "ts": _ts(base - 600 + k),
                           "customer_id": customer,
                           "promoter_id": f"P{int(rng.paretovariate(1.2)) % promoters}"})
        lines = [{"sku": f"s{j}", "category": rng.choice(["food", "home", "electronics"]),
                  "amount": f"{rng.randint(1, 2000)}.{rng.randint(0, 99):02d}"}
                 for j in range(rng.randint(1, 3))]
        events.append({"event_id": f"p{n}", "type": "order_paid", "ts": _ts(base),
                       "order_id": f"O{n}", "customer_id": customer,
                       "merchant_id": f"M{rng.randrange(200)}", "currency": "CNY",
                       "lines": lines})
        if rng.random() < 0.8:
            events.append({"event_id": f"c{n}", "type": "order_confirmed",
                           "ts": _ts(base + 3 * 86_400), "order_id": f"O{n}"})
        if rng.random() < 0.05:
            events.append({"event_id": f"r{n}", "type": "order_refunded",
                           "ts": _ts(base + 5 * 86_400), "order_id": f"O{n}",
                           "lines": [{"sku": "s0", "amount": lines[0]["amount"]}]})
    # As `fenrun settle` reads them: JSON lines, parsed with the raw text kept for the events table.
    return sort_events(parse_json_line(json.dumps(e, separators=(",", ":"))) for e in events)


def _ts(seconds: int) -> str:
    day, rest = divmod(seconds, 86_400)
    clock = f"{rest // 3600:02d}:{rest % 3600 // 60:02d}:{rest % 60:02d}"
    return f"2026-{1 + day // 28:02d}-{1 + day % 28:02d}T{clock}Z"


@contextmanager
def scratch_database(kind: str) -> Iterator[str]:
    if kind == "sqlite":
        with tempfile.TemporaryDirectory() as folder:
            yield f"sqlite:///{folder}/bench.db"
        return
    admin_url = os.environ.get("FENRUN_TEST_POSTGRES_URL",
                               "postgresql+psycopg://postgres@127.0.0.1:5432/test")
    with scratch_postgres(admin_url, "fenrun_bench") as url:
        yield url


def _journal_rows(engine: Engine) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    with engine.connect() as conn:
        entries = [tuple(r) for r in conn.execute(
            select(*(t.journal_entries.c[name] for name in ENTRY_COLUMNS)))]
        postings = [tuple(r) for r in conn.execute(
            select(*(t.postings.c[name] for name in POSTING_COLUMNS)))]
    return entries, postings


def _bare_insert_seconds(url: str, entries: list[tuple[Any, ...]],
                         postings: list[tuple[Any, ...]], batches: int
                         ) -> tuple[float, float, float | None]:
    """(wall seconds, this process's CPU seconds, the backends' CPU seconds or None)."""
    engine = create_db_engine(url)
    upgrade(engine)
    server_before = _backend_cpu_s(engine)
    cpu_before = _own_cpu_s()
    entry_step = -(-len(entries) // batches)
    posting_step = -(-len(postings) // batches)
    started = time.perf_counter()
    for b in range(batches):
        with engine.begin() as conn:
            bulk_insert(conn, t.journal_entries, ENTRY_COLUMNS,
                        entries[b * entry_step:(b + 1) * entry_step])
            bulk_insert(conn, t.postings, POSTING_COLUMNS,
                        postings[b * posting_step:(b + 1) * posting_step])
    elapsed = time.perf_counter() - started
    client_cpu_s = _own_cpu_s() - cpu_before
    server_after = _backend_cpu_s(engine)
    engine.dispose()
    server_cpu_s = (server_after - server_before
                    if server_before is not None and server_after is not None else None)
    return elapsed, client_cpu_s, server_cpu_s


def _own_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _backend_cpu_s(engine: Engine) -> float | None:
    """CPU seconds used so far by the PostgreSQL backends serving `engine`'s database.

    Read from /proc, so only when the server runs on this machine (None otherwise, and on SQLite,
    whose work is done inside this process and counted in its own CPU time).
    """
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


def bench_database(kind: str, events: list[Event], orders: int) -> dict[str, Any]:
    plans = PlanBook(parse_plan_text(PLAN))
    with scratch_database(kind) as url:
        engine = create_db_engine(url)
        upgrade(engine)
        server_before = _backend_cpu_s(engine)
        cpu_before = _own_cpu_s()
        started = time.perf_counter()
        apply_events(engine, plans, events, BATCH)
        settle_s = time.perf_counter() - started
        client_cpu_s = _own_cpu_s() - cpu_before
        server_after = _backend_cpu_s(engine)
        server_cpu_s = (server_after - server_before
                        if server_before is not None and server_after is not None else None)
        started = time.perf_counter()
        released = release_due(engine, plans, events[-1].ts)
        release_s = time.perf_counter() - started
        entries, postings = _journal_rows(engine)
        with engine.connect() as conn:
            paid_orders = conn.execute(select(func.count()).select_from(t.orders)).scalar_one()
        engine.dispose()
    batches = -(-len(events) // BATCH)
    with scratch_database(kind) as url:
        baseline_s, bare_client_s, bare_server_s = _bare_insert_seconds(url, entries, postings,
                                                                        batches)
    journal_rows = len(entries) + len(postings)
    del entries, postings
    return {
        "orders": paid_orders, "events": len(events), "journal_rows": journal_rows,
        "settle_s": settle_s, "orders_per_s": orders / settle_s,
        "events_per_s": len(events) / settle_s, "bare_insert_s": baseline_s,
        "bare_insert_orders_per_s": orders / baseline_s, "ratio": baseline_s / settle_s,
        "released": released, "release_s": release_s,
        "client_cpu_us_per_order": client_cpu_s * 1e6 / orders,
        "server_cpu_us_per_order": (server_cpu_s * 1e6 / orders
                                    if server_cpu_s is not None else None),
        "bare_cpu_us_per_order": (bare_client_s + (bare_server_s or 0.0)) * 1e6 / orders,
    }


def run(orders: int = 100_000, databases: tuple[str, ...] = ("sqlite", "postgresql")) -> dict:
    started = time.perf_counter()
    events = generate(orders)
    gc.freeze()  # as the CLI does after parsing: the stream lives to the end
    generate_s = time.perf_counter() - started
    print(f"settle: generated and parsed {len(events):,} events for {orders:,} orders in "
          f"{generate_s:.1f}s (parsing is not in the settle figures below)")
    results = {}
    for kind in databases:
        r = bench_database(kind, events, orders)
        results[kind] = r
        print(f"settle[{kind}]: {r['orders_per_s']:,.0f} orders/s "
              f"({r['events_per_s']:,.0f} events/s, {r['settle_s']:.1f}s); bare INSERT of the "
              f"same {r['journal_rows']:,} journal rows:"
              f" {r['bare_insert_orders_per_s']:,.0f} orders/s ({r['bare_insert_s']:.1f}s);"
              f" ratio {r['ratio']:.2f}; released {r['released']:,} holds in {r['release_s']:.1f}s")
        print(_cpu_budget(r))
    return results


def _cpu_budget(r: dict) -> str:
    """Where the CPU of one order goes, and the ceiling that puts on this machine.

    Settling is CPU-bound on both sides: this process (parsing is excluded) and the database
    backend. With every core busy and perfect overlap, orders/s cannot exceed
    cores / (client + server CPU per order); the figure says how far any scheme of workers,
    threads or pipelining could go here without cutting the work per order itself.
    """
    client = r["client_cpu_us_per_order"]
    server = r["server_cpu_us_per_order"] or 0.0
    cores = os.cpu_count() or 1
    ceiling = cores * 1e6 / (client + server)
    where = f"backend {server:,.0f} µs" if r["server_cpu_us_per_order"] else "in-process"
    return (f"  cpu per order: settle process {client:,.0f} µs, {where}; "
            f"ceiling on {cores} cores with perfect overlap: {ceiling:,.0f} orders/s; "
            f"the bare INSERT costs {r['bare_cpu_us_per_order']:,.0f} µs per order in all")


if __name__ == "__main__":
    run(int(os.environ.get("FENRUN_BENCH_ORDERS", "100000")))
