"""Two workers, one SIGKILLed mid-stream, produce exactly the ledger `fenrun settle` produces.

Against a real broker (Tansu) and PostgreSQL: a simulated week plus hand-built edge cases
(a suspension between orders, ties across partitions, holds released and clawed back, unknown
promoters) is published to a 6-partition topic with poison messages mixed in; the stream's
balances, journal, event outcomes and verification equal the batch path's on a separate
database; poison lands in the dead-letter topic and every journal entry reaches the outbox topic.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaConsumer, KafkaProducer
from sqlalchemy import Engine, func, select

from features.simulator import SimulationConfig, simulate
from settlement import tables as t
from settlement.db import create_db_engine, upgrade
from settlement.events import parse_json_line
from settlement.plan import PlanBook, parse_plan_text
from settlement.plan_store import store_versions
from settlement.reports import balances_document, verify_ledger
from settlement.service import apply_events, release_due, sort_events
from settlement.stream.producer import ensure_topics, prepare, publish

pytestmark = pytest.mark.integration
PARTITIONS = 6
POISON = [b"this is not json", b'{"type": "touch", "event_id": "bad-1"}', b"\xff\xfe"]
WORKER_TIMEOUT_S = 120
RESTART_AFTER_S = 5.0
VICTIM_RUNS_S = 7.0
FENRUN = str(Path(sys.executable).parent / "fenrun")


def _edge_events(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Cases where the arrival order across partitions differs from the batch order."""
    paid = [e for e in events if e["type"] == "order_paid"]
    seller = next(e for e in events if e["type"] == "touch"
                  and any(p["customer_id"] == e["customer_id"] for p in paid[len(paid) // 2:]))
    promoter = seller["promoter_id"]
    start = "2026-01-03T00:00:00Z"
    return [
        {"event_id": "x-suspend", "type": "promoter_suspended", "ts": start,
         "promoter_id": promoter},
        {"event_id": "x-reinstate", "type": "promoter_reinstated", "ts": "2026-01-05T00:00:00Z",
         "promoter_id": promoter},
        # a touch at the same instant as its promoter's join, but earlier in the file: rejected
        {"event_id": "x-tie-touch", "type": "touch", "ts": "2026-01-04T00:00:00Z",
         "customer_id": "CX1", "promoter_id": "PX-tie", "kind": "click"},
        {"event_id": "x-tie-join", "type": "promoter_joined", "ts": "2026-01-04T00:00:00Z",
         "promoter_id": "PX-tie"},
        {"event_id": "x-tie-pay", "type": "order_paid", "ts": "2026-01-04T00:10:00Z",
         "order_id": "OX1", "customer_id": "CX1", "merchant_id": "MX", "currency": "CNY",
         "lines": [{"sku": "a", "category": "home", "amount": "120.00"}]},
        {"event_id": "x-ghost", "type": "touch", "ts": "2026-01-02T00:00:00Z",
         "customer_id": "CX2", "promoter_id": "P-never-joins"},
        # paid, confirmed at once, released after the 1-day hold, then refunded: a clawback
        {"event_id": "x-pay2", "type": "order_paid", "ts": "2026-01-02T00:00:00Z",
         "order_id": "OX2", "customer_id": seller["customer_id"], "merchant_id": "MX",
         "currency": "CNY", "lines": [{"sku": "a", "category": "home", "amount": "80.00"}]},
        {"event_id": "x-conf2", "type": "order_confirmed", "ts": "2026-01-02T01:00:00Z",
         "order_id": "OX2"},
        {"event_id": "x-ref2", "type": "order_refunded", "ts": "2026-01-06T00:00:00Z",
         "order_id": "OX2", "lines": [{"sku": "a", "amount": "30.00"}]},
    ]


@pytest.fixture(scope="module")
def week(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[str], str]:
    """(event lines in file order, plan text): a simulated week plus the edge cases."""
    out = tmp_path_factory.mktemp("week")
    simulate(out, SimulationConfig(promoters=400, days=7, seed=11, hold_days=1,
                                   orders_per_promoter_year=150.0))
    lines = (out / "events.jsonl").read_text().splitlines()
    events = [json.loads(line) for line in lines]
    edges = [json.dumps(e) for e in _edge_events(events)]
    return lines + edges, (out / "plan.yaml").read_text()


def _batch_books(url: str, lines: list[str], plans: PlanBook) -> Engine:
    engine = create_db_engine(url)
    upgrade(engine)
    ordered = sort_events(parse_json_line(line) for line in lines)
    apply_events(engine, plans, ordered, 500)
    release_due(engine, plans, ordered[-1].ts)
    return engine


def _snapshot(engine: Engine) -> dict[str, Any]:
    with engine.connect() as conn:
        p = t.postings.c
        postings = sorted(conn.execute(select(p.entry_id, p.account_kind, p.owner_id,
                                              p.amount_minor)).all())
        e = t.events.c
        return {"balances": balances_document(conn), "problems": verify_ledger(conn),
                "entries": conn.execute(select(func.count()).select_from(t.journal_entries))
                .scalar_one(),
                "postings": [tuple(row) for row in postings],
                "events": sorted(conn.execute(select(e.event_id, e.status)).all())}


def _worker(env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen([FENRUN, "consume", "--exit-when-idle", "3"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def _count_events(engine: Engine) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(t.events)).scalar_one()


def _drain(bootstrap: str, topic: str, expected: int, timeout_s: float = 20) -> list[Any]:
    consumer = KafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                             enable_auto_commit=False, group_id=None)
    seen: list[Any] = []
    deadline = time.monotonic() + timeout_s
    while len(seen) < expected and time.monotonic() < deadline:
        for batch in consumer.poll(timeout_ms=200).values():
            seen.extend(batch)
    consumer.close()
    return seen


def test_two_workers_and_a_crash_give_the_batch_ledger(kafka_bootstrap, topic_prefix, week,
                                                       postgres_url, sqlite_url):
    lines, plan_text = week
    plans = PlanBook(parse_plan_text(plan_text))
    topics = {"orders": f"{topic_prefix}.orders", "dlq": f"{topic_prefix}.orders.dlq",
              "commissions": f"{topic_prefix}.commissions"}
    ensure_topics(kafka_bootstrap, {topics["orders"]: PARTITIONS})
    publish(kafka_bootstrap, topics["orders"], prepare(lines))
    poison = KafkaProducer(bootstrap_servers=kafka_bootstrap)
    for value in POISON:
        poison.send(topics["orders"], value=value)
    poison.close()

    stream = create_db_engine(postgres_url)
    upgrade(stream)
    with stream.begin() as conn:
        store_versions(conn, plans.versions)
    env = {**os.environ, "FENRUN_KAFKA_BOOTSTRAP": kafka_bootstrap,
           "FENRUN_DATABASE_URL": postgres_url, "FENRUN_ORDERS_TOPIC": topics["orders"],
           "FENRUN_DLQ_TOPIC": topics["dlq"], "FENRUN_COMMISSIONS_TOPIC": topics["commissions"],
           "FENRUN_CONSUMER_GROUP": f"{topic_prefix}-group", "FENRUN_APPLY_BATCH_MAX": "40",
           "FENRUN_SESSION_TIMEOUT_MS": "4000", "FENRUN_HEARTBEAT_INTERVAL_MS": "500",
           "FENRUN_MAX_POLL_INTERVAL_MS": "4000", "FENRUN_IDLE_TTL_S": "20",
           "FENRUN_REJOIN_AFTER_S": "12",
           "FENRUN_LOG_LEVEL": os.environ.get("FENRUN_TEST_STREAM_LOG", "WARNING")}
    # The survivor joins first and leads the group; the victim joins once it is consuming, and is
    # killed after its first rebalance (Tansu 0.6 can wedge a group whose leader dies).
    second = _worker(env)
    deadline = time.monotonic() + WORKER_TIMEOUT_S
    while _count_events(stream) == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    first = _worker(env)
    time.sleep(VICTIM_RUNS_S)
    os.kill(first.pid, signal.SIGKILL)
    first.wait()
    killed_at = _count_events(stream)
    time.sleep(RESTART_AFTER_S)  # past the session timeout: see STREAMING.md on Tansu
    restarted = _worker(env)
    for process in (second, restarted):
        try:
            output, _ = process.communicate(timeout=WORKER_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.send_signal(signal.SIGUSR1)
            time.sleep(1)
            process.kill()
            output, _ = process.communicate()
            raise AssertionError(output.decode()[-5000:]) from None
        assert process.returncode == 0, output.decode()[-3000:]
    assert killed_at < len(lines), "the crash must fall mid-stream"

    batch = _batch_books(sqlite_url, lines, plans)
    streamed, expected = _snapshot(stream), _snapshot(batch)
    assert streamed["problems"] == [] and expected["problems"] == []
    assert streamed["entries"] == expected["entries"]
    assert streamed["postings"] == expected["postings"]
    assert streamed["events"] == expected["events"]
    assert streamed["balances"] == expected["balances"]
    statuses = dict(expected["events"])
    assert statuses["x-tie-touch"] == "rejected" and statuses["x-ghost"] == "rejected"
    assert any(kind == "released" for kind, in _kinds(stream))

    dead = _drain(kafka_bootstrap, topics["dlq"], len(POISON) + 2)
    invalid = [m for m in dead if dict(m.headers)["fenrun-dlq-kind"] == b"invalid"]
    assert sorted(m.value for m in invalid) == sorted(POISON)
    assert all(dict(m.headers)["fenrun-dlq-reason"] for m in invalid)
    rejected = {dict(m.headers).get("fenrun-event-id") for m in dead} - {None}
    assert {b"x-tie-touch", b"x-ghost"} <= rejected

    entry_ids = _entries_with_postings(stream)
    relayed = _drain(kafka_bootstrap, topics["commissions"], len(entry_ids))
    assert {m.key.decode() for m in relayed} == entry_ids
    stream.dispose()
    batch.dispose()


def _kinds(engine: Engine) -> list[tuple[str]]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(select(t.journal_entries.c.kind).distinct())]


def _entries_with_postings(engine: Engine) -> set[str]:
    with engine.connect() as conn:
        return set(conn.execute(select(t.postings.c.entry_id).distinct()).scalars())


def test_consume_needs_a_broker_address(tmp_path: Path):
    env = {k: v for k, v in os.environ.items() if k != "FENRUN_KAFKA_BOOTSTRAP"}
    result = subprocess.run([FENRUN, "consume"], env=env,
                            capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert result.returncode == 2
    assert "FENRUN_KAFKA_BOOTSTRAP" in result.stderr
