"""Under a plan with every plans v2 rule, two workers settle a simulated mall to the batch's books.

Against a real broker (Tansu) and PostgreSQL. Plans v2 accumulators (a merchant's month GMV for
take-rate tiers, a promoter's ladder and grade GMV, day grants under the per-day cap, regional
agents) make a payment's split depend on payments of OTHER customers applied before it, and
customers are spread over partitions owned by different workers. The whole file is published
before the workers start, so each could race through its own payments: only ordering payments
against each other across workers (settlement/stream/keys.py, buffer.choose) gives each order
the tier, ladder band, grade and allowance `fenrun settle` gives it. Balances, postings, event
outcomes and every accumulator must be equal. Then the same holds for orders published while the
workers run and claim to be caught up, and across the first v2 version stored while they run.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select

from features.simulator import SimulationConfig, simulate
from settlement import tables as t
from settlement.db import create_db_engine, upgrade
from settlement.ingest import settle_file
from settlement.plan import build_version, parse_plan_text
from settlement.plan_store import store_versions
from settlement.stream.config import StreamSettings
from settlement.stream.producer import ensure_topics, prepare, publish
from settlement.stream.worker import WorkerStats, run_worker
from tests.conftest import DEFAULT_PLAN
from tests.stream.test_plan_reload import RAISED_FROM, _days, _wait_for_events
from tests.stream.test_worker import _snapshot

pytestmark = pytest.mark.integration
PARTITIONS = 4
WORKERS = 2
WORKER_TIMEOUT_S = 240.0


def _tallies(engine: Engine) -> list[tuple[Any, ...]]:
    c = t.plan_tallies.c
    with engine.connect() as conn:
        return [tuple(row) for row in conn.execute(
            select(c.tally_key, c.owner_id, c.period, c.value).order_by(c.tally_key))]


def _grades(engine: Engine) -> list[tuple[Any, ...]]:
    c = t.promoters.c
    with engine.connect() as conn:
        return [tuple(row) for row in conn.execute(
            select(c.promoter_id, c.grade).order_by(c.promoter_id))]


def _books(url: str, plan_text: str) -> Engine:
    engine = create_db_engine(url)
    upgrade(engine)
    with engine.begin() as conn:
        store_versions(conn, parse_plan_text(plan_text))
    return engine


def test_two_workers_settle_a_mall_with_every_plan_rule_like_the_batch(
        kafka_bootstrap, topic_prefix, postgres_url, sqlite_url, tmp_path: Path):
    simulate(tmp_path / "sim", SimulationConfig(promoters=80, days=20, seed=5, plan_rules=True,
                                                orders_per_promoter_year=60))
    events_file = tmp_path / "sim" / "events.jsonl"
    plan_text = (tmp_path / "sim" / "plan.yaml").read_text()
    lines = events_file.read_text().splitlines()

    stream = _books(postgres_url, plan_text)
    settings = StreamSettings(
        kafka_bootstrap=kafka_bootstrap, orders_topic=f"{topic_prefix}.orders",
        dlq_topic=f"{topic_prefix}.dlq", commissions_topic=f"{topic_prefix}.commissions",
        consumer_group=f"{topic_prefix}-group", session_timeout_ms=4000,
        heartbeat_interval_ms=500, max_poll_interval_ms=8000, idle_ttl_s=20,
        release_interval_s=0.2)
    ensure_topics(kafka_bootstrap, {settings.orders_topic: PARTITIONS})
    publish(kafka_bootstrap, settings.orders_topic, prepare(lines))
    results: list[WorkerStats] = []

    def work() -> None:
        results.append(run_worker(settings, postgres_url, exit_when_idle_s=4))

    workers = [threading.Thread(target=work, daemon=True) for _ in range(WORKERS)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=WORKER_TIMEOUT_S)
    assert not any(worker.is_alive() for worker in workers), "a worker did not finish"
    assert len(results) == WORKERS
    assert all(stats.applied > 0 for stats in results), "both workers applied events"

    batch = _books(sqlite_url, plan_text)
    settle_file(batch, events_file, batch_size=300)
    streamed, expected = _snapshot(stream), _snapshot(batch)
    assert streamed["problems"] == [] and expected["problems"] == []
    assert streamed["events"] == expected["events"]
    assert streamed["balances"] == expected["balances"]
    assert streamed["postings"] == expected["postings"]
    tallies = _tallies(batch)
    assert {key.split("|")[0] for key, *_ in tallies} >= {"m", "l", "g", "d", "agent"}
    assert _tallies(stream) == tallies
    assert _grades(stream) == _grades(batch)
    stream.dispose()
    batch.dispose()


@pytest.mark.parametrize("stored_mid_run", [True, False],
                         ids=["first-v2-version-stored-mid-run", "v2-book-from-the-start"])
def test_orders_published_while_two_workers_run_under_plans_v2_settle_like_the_batch(
        kafka_bootstrap, topic_prefix, postgres_url, sqlite_url, tmp_path: Path,
        stored_mid_run: bool):
    """Two rounds of events are published while two workers run, each round while both are
    caught up (IDLE): the later orders (tiers, a ladder, a per-day cap) settle as `fenrun
    settle` settles them with the same operations.

    `first-v2-version-stored-mid-run`: the workers start under a v1 plan (payments pass each
    other); the v2 version is stored between the rounds, each worker's next step sees the book
    keep accumulators and orders payments from then on. `v2-book-from-the-start`: no switch at
    all; both versions are stored before the workers start. Both cases diverged by a few fen in
    most runs while a worker trusted another's caught-up claim after the next round was in the
    broker (settlement/stream/claims.py says why it no longer does).
    """
    old, = parse_plan_text(DEFAULT_PLAN)
    new = build_version(old.document | {
        "effective_from": RAISED_FROM,
        "merchant_tiers": [{"from_gmv": "0.00", "platform_take_rate": "0.05"},
                           {"from_gmv": "300.00", "platform_take_rate": "0.03"}],
        "ladder": [{"from_gmv": "0.00", "bonus": "0"}, {"from_gmv": "200.00", "bonus": "0.02"}],
        "caps": {"per_promoter_day": "25.00"}})
    assert new.rules is not None
    at_start = [old] if stored_mid_run else [old, new]
    first, later = _days()
    stream = create_db_engine(postgres_url)
    upgrade(stream)
    with stream.begin() as conn:
        store_versions(conn, at_start)
    settings = StreamSettings(
        kafka_bootstrap=kafka_bootstrap, orders_topic=f"{topic_prefix}.orders",
        dlq_topic=f"{topic_prefix}.dlq", commissions_topic=f"{topic_prefix}.commissions",
        consumer_group=f"{topic_prefix}-group", session_timeout_ms=4000,
        heartbeat_interval_ms=500, max_poll_interval_ms=8000, idle_ttl_s=20,
        release_interval_s=0.2)
    ensure_topics(kafka_bootstrap, {settings.orders_topic: PARTITIONS})
    stop = threading.Event()
    results: list[WorkerStats] = []

    def work() -> None:
        results.append(run_worker(settings, postgres_url, should_stop=stop.is_set))

    workers = [threading.Thread(target=work, daemon=True) for _ in range(WORKERS)]
    for worker in workers:
        worker.start()
    try:
        publish(kafka_bootstrap, settings.orders_topic, prepare(json.dumps(e) for e in first))
        _wait_for_events(stream, len(first), workers[0])
        if stored_mid_run:
            with stream.begin() as conn:
                assert store_versions(conn, [new]) == [new.version_id]
        time.sleep(0.5)  # both workers caught up and claiming IDLE before the next round
        publish(kafka_bootstrap, settings.orders_topic, prepare(json.dumps(e) for e in later))
        _wait_for_events(stream, len(first) + len(later), workers[0])
        time.sleep(1.0)  # a release round after the last event
    finally:
        stop.set()
        for worker in workers:
            worker.join(timeout=30)
    assert len(results) == WORKERS and sum(s.tally.rejected for s in results) == 0

    # `fenrun settle` with the same operations: the first day, the version stored, the rest.
    # (Orders applied before a first v2 version is stored are counted in no accumulator, on
    # every path: the batch given both versions at once would count the first day's orders.)
    batch = create_db_engine(sqlite_url)
    upgrade(batch)
    with batch.begin() as conn:
        store_versions(conn, at_start)
    for name, events in (("first", first), ("later", later)):
        events_file = tmp_path / f"{name}.jsonl"
        events_file.write_text("".join(json.dumps(e) + "\n" for e in events))
        assert settle_file(batch, events_file, batch_size=500).rejects == []
        if name == "first" and stored_mid_run:
            with batch.begin() as conn:
                store_versions(conn, [new])
    streamed, expected = _snapshot(stream), _snapshot(batch)
    assert streamed["problems"] == [] and expected["problems"] == []
    assert streamed["events"] == expected["events"]
    assert streamed["balances"] == expected["balances"]
    assert streamed["postings"] == expected["postings"]
    tallies = _tallies(batch)
    assert {key.split("|")[0] for key, *_ in tallies} >= {"m", "l", "d"}
    assert _tallies(stream) == tallies
    stream.dispose()
    batch.dispose()
