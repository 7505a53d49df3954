"""Settlement throughput: orders/s on SQLite and PostgreSQL beside two references of the same rows.

Settling goes through `fenrun settle`'s path (`Ingest.apply_batches`: the pipelined writer). The
references, measured in the same run (benchmarks/floors.py): a bare INSERT of the journal rows it
wrote, and the floor, a bare COPY of every row it wrote (with its order confirmations), each in
as many transactions as settling used. Ratios above 1 would mean faster than the rows alone.
"""

from __future__ import annotations

import gc
import json
import os
import random
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, select

from benchmarks.floors import bare_insert, copy_floor, measured, ratios_line, written_rows
from settlement import tables as t
from settlement.db import create_db_engine, upgrade
from settlement.events import Event, parse_json_line
from settlement.ingest import Ingest
from settlement.plan import PlanBook, parse_plan_text
from settlement.plan_store import store_versions
from settlement.scratch import scratch_postgres
from settlement.service import release_due, sort_events

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


def settle(engine: Engine, events: list[Event]) -> None:
    """`fenrun settle`'s path: the one ingestion use case, batches through the pipelined writer."""
    ingest = Ingest(engine, BATCH)
    batches = ((start, events[start:start + BATCH]) for start in range(0, len(events), BATCH))
    for _ in ingest.apply_batches(batches):
        pass


def bench_database(kind: str, events: list[Event], orders: int) -> dict[str, Any]:
    plans = PlanBook(parse_plan_text(PLAN))
    with scratch_database(kind) as url:
        engine = create_db_engine(url)
        upgrade(engine)
        with engine.begin() as conn:
            store_versions(conn, plans.versions)
        cost = measured(engine, lambda: settle(engine, events))
        started = time.perf_counter()
        released = release_due(engine, plans, events[-1].ts)
        release_s = time.perf_counter() - started
        rows = written_rows(engine)
        with engine.connect() as conn:
            paid_orders = conn.execute(select(func.count()).select_from(t.orders)).scalar_one()
        engine.dispose()
    batches = -(-len(events) // BATCH)
    with scratch_database(kind) as url:
        bare = bare_insert(url, rows, batches)
    with scratch_database(kind) as url:
        floor = copy_floor(url, rows, batches)
    journal_rows = len(rows["journal_entries"]) + len(rows["postings"])
    written = sum(len(part) for part in rows.values())
    del rows
    return {
        "orders": paid_orders, "events": len(events), "journal_rows": journal_rows,
        "rows_written": written, "settle": cost, "bare": bare, "floor": floor,
        "settle_s": cost.wall_s, "orders_per_s": orders / cost.wall_s,
        "events_per_s": len(events) / cost.wall_s, "bare_insert_s": bare.wall_s,
        "bare_insert_orders_per_s": orders / bare.wall_s, "ratio": bare.wall_s / cost.wall_s,
        "floor_s": floor.wall_s, "floor_ratio": floor.wall_s / cost.wall_s,
        "released": released, "release_s": release_s,
        "client_cpu_us_per_order": cost.client_cpu_s * 1e6 / orders,
        "server_cpu_us_per_order": (cost.server_cpu_s * 1e6 / orders
                                    if cost.server_cpu_s is not None else None),
        "bare_cpu_us_per_order": bare.cpu_us_per(orders),
        "floor_cpu_us_per_order": floor.cpu_us_per(orders),
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
        print(ratios_line(f"settle[{kind}]", orders, r["settle"], r["bare"], r["floor"]))
        print(f"  {r['events_per_s']:,.0f} events/s; {r['rows_written'] / orders:.1f} rows "
              f"written per order ({r['journal_rows']:,} of {r['rows_written']:,} are journal "
              f"rows); released {r['released']:,} holds in {r['release_s']:.1f}s")
        print(_cpu_budget(r))
    return results


def _cpu_budget(r: dict) -> str:
    """The ceiling the CPU per order puts on this machine.

    Settling is CPU-bound on both sides: this process (parsing is excluded) and the database
    backend. With every core busy and perfect overlap, orders/s cannot exceed
    cores / (client + server CPU per order).
    """
    client = r["client_cpu_us_per_order"]
    server = r["server_cpu_us_per_order"] or 0.0
    cores = os.cpu_count() or 1
    return (f"  ceiling on {cores} cores with perfect overlap: "
            f"{cores * 1e6 / (client + server):,.0f} orders/s (the floor's: "
            f"{cores * 1e6 / r['floor_cpu_us_per_order']:,.0f})")


if __name__ == "__main__":
    run(int(os.environ.get("FENRUN_BENCH_ORDERS", "100000")))
