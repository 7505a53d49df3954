"""A running worker settles by plan versions stored while it runs, and still equals the batch.

Against a real broker (Tansu) and PostgreSQL: a worker applies a first day of events, a new plan
version (double level-1 rate) is stored without restarting it, then orders paid after the new
version's `effective_from` are published: they settle at the new rates, confirmations of both
versions' orders apply, and the stream's books equal `fenrun settle` of the same events with the
same two versions on a separate database.
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from settlement import tables as t
from settlement.db import create_db_engine, upgrade
from settlement.ingest import settle_file
from settlement.plan import build_version, parse_plan_text
from settlement.plan_store import store_versions
from settlement.stream.config import StreamSettings
from settlement.stream.producer import ensure_topics, prepare, publish
from settlement.stream.worker import run_worker
from tests.conftest import DEFAULT_PLAN
from tests.stream.test_worker import _snapshot

pytestmark = pytest.mark.integration
WAIT_S = 60.0
RAISED_FROM = "2026-03-05T00:00:00Z"


def _order(n: int, ts: str, customer: str, amount: str) -> list[dict[str, Any]]:
    return [{"event_id": f"touch-{n}", "type": "touch", "ts": ts, "customer_id": customer,
             "promoter_id": "B" if n % 2 else "A"},
            {"event_id": f"paid-{n}", "type": "order_paid", "ts": ts.replace(":00Z", ":30Z"),
             "order_id": f"o{n}", "customer_id": customer, "merchant_id": "m1",
             "currency": "CNY", "lines": [{"sku": "a", "category": "food", "amount": amount}]}]


def _confirm(n: int, ts: str, customer: str) -> dict[str, Any]:
    return {"event_id": f"conf-{n}", "type": "order_confirmed", "ts": ts, "order_id": f"o{n}",
            "customer_id": customer}


def _days() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    first = [{"event_id": "join-A", "type": "promoter_joined", "ts": "2026-03-01T00:00:00Z",
              "promoter_id": "A"},
             {"event_id": "join-B", "type": "promoter_joined", "ts": "2026-03-01T01:00:00Z",
              "promoter_id": "B", "parent_id": "A"}]
    for n in range(6):
        first += _order(n, f"2026-03-02T{n:02d}:00:00Z", f"c{n}", f"{100 + n}.00")
    later = [_confirm(n, f"2026-03-04T{n:02d}:00:00Z", f"c{n}") for n in range(6)]
    for n in range(6, 12):
        later += _order(n, f"2026-03-06T{n:02d}:00:00Z", f"c{n % 4}", f"{100 + n}.00")
    later += [_confirm(n, f"2026-03-20T{n:02d}:00:00Z", f"c{n % 4}") for n in range(6, 12)]
    return first, later


def _wait_for_events(engine: Engine, count: int, worker: threading.Thread) -> None:
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline and worker.is_alive():
        with engine.connect() as conn:
            if conn.execute(select(func.count()).select_from(t.events)).scalar_one() >= count:
                return
        time.sleep(0.05)
    raise AssertionError(f"the worker did not apply {count} events in time")


def test_a_running_worker_settles_by_a_version_stored_while_it_runs(
        kafka_bootstrap, topic_prefix, postgres_url, sqlite_url, tmp_path):
    old, = parse_plan_text(DEFAULT_PLAN)
    new = build_version(old.document | {"effective_from": RAISED_FROM,
                                        "levels": ["0.20", "0.05", "0.02"]})
    first, later = _days()
    settings = StreamSettings(
        kafka_bootstrap=kafka_bootstrap, orders_topic=f"{topic_prefix}.orders",
        dlq_topic=f"{topic_prefix}.dlq", commissions_topic=f"{topic_prefix}.commissions",
        consumer_group=f"{topic_prefix}-group", session_timeout_ms=4000,
        heartbeat_interval_ms=500, max_poll_interval_ms=4000, idle_ttl_s=20,
        release_interval_s=0.2)
    ensure_topics(kafka_bootstrap, {settings.orders_topic: 2})
    stream = create_db_engine(postgres_url)
    upgrade(stream)
    with stream.begin() as conn:
        store_versions(conn, [old])
    stop = threading.Event()
    result: dict[str, Any] = {}

    def work() -> None:
        result["stats"] = run_worker(settings, postgres_url, should_stop=stop.is_set)

    worker = threading.Thread(target=work, daemon=True)
    worker.start()
    try:
        publish(kafka_bootstrap, settings.orders_topic, prepare(json.dumps(e) for e in first))
        _wait_for_events(stream, len(first), worker)
        with stream.begin() as conn:  # an approved rate change, stored while the worker runs
            assert store_versions(conn, [new]) == [new.version_id]
        publish(kafka_bootstrap, settings.orders_topic, prepare(json.dumps(e) for e in later))
        _wait_for_events(stream, len(first) + len(later), worker)
        time.sleep(1.0)  # a release round after the last event
    finally:
        stop.set()
        worker.join(timeout=30)
    assert not worker.is_alive() and "stats" in result
    assert result["stats"].tally.rejected == 0

    with stream.connect() as conn:
        versions = dict(conn.execute(select(t.orders.c.order_id, t.orders.c.plan_version_id))
                        .tuples().all())
    assert {versions[f"o{n}"] for n in range(6)} == {old.version_id}
    assert {versions[f"o{n}"] for n in range(6, 12)} == {new.version_id}

    events_file = tmp_path / "events.jsonl"
    events_file.write_text("".join(json.dumps(e) + "\n" for e in first + later))
    batch = create_db_engine(sqlite_url)
    upgrade(batch)
    with batch.begin() as conn:
        store_versions(conn, [old, new])
    settled = settle_file(batch, events_file, batch_size=500)
    assert settled.rejects == []
    streamed, expected = _snapshot(stream), _snapshot(batch)
    assert streamed["problems"] == [] and expected["problems"] == []
    assert streamed["postings"] == expected["postings"]
    assert streamed["events"] == expected["events"]
    assert streamed["balances"] == expected["balances"]
    # o6..o11 at 20 % level 1 to B or A (odd orders to B, whose parent A earns 5 % as level 2)
    assert any(kind == "released" for kind in _kinds(stream))
    stream.dispose()
    batch.dispose()


def _kinds(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return list(conn.execute(select(t.journal_entries.c.kind).distinct()).scalars())
