"""Recommended rates reach the money: simulate a mall, learn and register a rate policy, suggest,
approve one raise effective from T; an order paid after T by a customer bound to that promoter
settles at the new rate, one paid before T at the old, the ledger verifies, and re-settling the
same events under the stored versions gives the same books. Then the same on the Kafka path
with a worker already running (real broker, PostgreSQL): the worker settles by the new plan
version without a restart."""

from __future__ import annotations

import json
import threading
import time
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine

from serving.champions import ChampionRegistry
from serving.config import ServingSettings
from serving.rate_config import RateSettings
from serving.rate_suggest import suggest_rates
from settlement import rate_overrides, read_model
from settlement.db import create_db_engine, upgrade
from settlement.events import Event, parse_event
from settlement.ingest import Ingest
from settlement.plan_store import store_versions, stored_versions
from settlement.reports import balances_document, verify_ledger
from settlement.stream.config import StreamSettings
from settlement.stream.producer import ensure_topics, prepare, publish
from settlement.stream.worker import run_worker
from tests.serving.rates_fixtures import mall_files, new_books, policy_store

NOTICE = timedelta(days=7)
CUSTOMER = "rates-e2e-customer"
WAIT_S = 90.0


def _stamp(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


def _approve_one_raise(books: Engine) -> tuple[str, Decimal, Decimal, datetime]:
    """Suggest in live mode as of the mall's last event and approve one raise: (promoter, old
    rate, new rate, the instant the new rate takes effect)."""
    serving = ServingSettings(mlflow_tracking_uri=policy_store(), champion_refresh_s=3600)
    registry = ChampionRegistry(serving)
    as_of = mall_files().events[-1].ts
    try:
        outcome = suggest_rates(books, registry, RateSettings(mode="live"), serving,
                                as_of=as_of, now=as_of + timedelta(hours=1), by="e2e", seed=1)
    finally:
        registry.close()
    with books.connect() as conn:
        raises = [r for r in read_model.list_suggestions(conn, status="pending", limit=10_000)
                  if r.run_id == outcome.run_id and r.change > 0]
    assert raises, f"the policy proposed no raise: {outcome.summary}"
    chosen = raises[0]
    decided_at = as_of + timedelta(days=1)
    effective = decided_at + NOTICE
    with books.begin() as conn:
        rate_overrides.approve(conn, [chosen.suggestion_id], effective_from=effective,
                               decided_by="growth lead", decided_at=decided_at, notice=NOTICE,
                               note="raise the good traffic")
    return (chosen.promoter_id, Decimal(chosen.current_rate), Decimal(chosen.proposed_rate),
            effective)


def _orders(promoter: str, effective: datetime) -> list[dict[str, Any]]:
    """A registration touch binds a new customer to the promoter (lifetime binding); one order
    before the change, one after
    the change and past the attribution lookback (only the binding attributes it)."""
    as_of = mall_files().events[-1].ts
    line = [{"sku": "BEA-00001", "category": "beauty", "amount": "100.00"}]
    order = {"type": "order_paid", "customer_id": CUSTOMER, "merchant_id": "m-e2e",
             "currency": "CNY", "lines": line}
    return [
        {"event_id": "e2e-touch", "type": "touch", "ts": _stamp(as_of + timedelta(hours=2)),
         "customer_id": CUSTOMER, "promoter_id": promoter, "kind": "register"},
        {**order, "event_id": "e2e-before", "order_id": "e2e-before",
         "ts": _stamp(effective - timedelta(days=2))},
        {**order, "event_id": "e2e-after", "order_id": "e2e-after",
         "ts": _stamp(effective + timedelta(days=40))},
    ]


def _level1_commission(books: Engine, promoter: str) -> dict[str, int]:
    with books.connect() as conn:
        rows = read_model.commissions(conn, levels=True)
    return {r.order_id: r.amount_minor for r in rows
            if r.order_id.startswith("e2e-") and r.promoter_id == promoter and r.level == 1}


def _check_books(books: Engine, promoter: str, old: Decimal, new: Decimal) -> None:
    paid = _level1_commission(books, promoter)
    assert paid == {"e2e-before": int(old * 10_000), "e2e-after": int(new * 10_000)}
    with books.connect() as conn:
        assert verify_ledger(conn) == []
        versions = {o.order_id: o.plan_version_id
                    for o in read_model.read_orders(conn).orders if o.order_id.startswith("e2e-")}
    assert versions["e2e-before"] != versions["e2e-after"]


def _events(raw: list[dict[str, Any]]) -> list[Event]:
    return [parse_event(dict(e)) for e in raw]


@pytest.mark.slow
def test_an_approved_raise_settles_orders_after_its_instant_only(tmp_path):
    books = new_books(f"sqlite:///{tmp_path / 'books.db'}")
    promoter, old, new, effective = _approve_one_raise(books)
    assert new > old
    extra = _orders(promoter, effective)
    ingest = Ingest(books, 500)
    ingest.apply(_events(extra))
    assert ingest.tally.refused == 0
    _check_books(books, promoter, old, new)

    again = create_db_engine(f"sqlite:///{tmp_path / 'again.db'}")  # re-settle everything
    upgrade(again)
    with books.connect() as conn, again.begin() as target:
        store_versions(target, [s.version for s in stored_versions(conn)])
    Ingest(again, 2000).apply([*mall_files().events, *_events(extra)])
    with books.connect() as a, again.connect() as b:
        assert balances_document(a) == balances_document(b)
    books.dispose()
    again.dispose()


def _wait_for(books: Engine, order_ids: set[str], worker: threading.Thread) -> None:
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline and worker.is_alive():
        with books.connect() as conn:
            known = {o.order_id for o in read_model.read_orders(conn).orders}
        if order_ids <= known:
            return
        time.sleep(0.1)
    raise AssertionError(f"the worker did not settle {sorted(order_ids)} in time")


@pytest.mark.integration
@pytest.mark.slow
def test_a_running_worker_settles_an_approved_raise_without_restart(
        kafka_bootstrap, topic_prefix, postgres_url):
    books = new_books(postgres_url)  # the mall's history, already settled
    settings = StreamSettings(
        kafka_bootstrap=kafka_bootstrap, orders_topic=f"{topic_prefix}.orders",
        dlq_topic=f"{topic_prefix}.dlq", commissions_topic=f"{topic_prefix}.commissions",
        consumer_group=f"{topic_prefix}-group", session_timeout_ms=4000,
        heartbeat_interval_ms=500, max_poll_interval_ms=4000, idle_ttl_s=20,
        release_interval_s=0.2)
    ensure_topics(kafka_bootstrap, {settings.orders_topic: 2})
    stop = threading.Event()
    result: dict[str, Any] = {}

    def work() -> None:
        result["stats"] = run_worker(settings, postgres_url, should_stop=stop.is_set)

    worker = threading.Thread(target=work, daemon=True)
    worker.start()
    try:
        # The worker settles a first order under the old version (its plan book is loaded),
        # then the raise is approved while it runs, then the orders of the test arrive.
        warm = {**_orders("P000001", mall_files().events[-1].ts + NOTICE)[1],
                "event_id": "e2e-warm", "order_id": "e2e-warm", "customer_id": "warm-customer",
                "ts": _stamp(mall_files().events[-1].ts + timedelta(hours=1))}
        publish(kafka_bootstrap, settings.orders_topic, prepare([json.dumps(warm)]))
        _wait_for(books, {"e2e-warm"}, worker)
        promoter, old, new, effective = _approve_one_raise(books)
        publish(kafka_bootstrap, settings.orders_topic,
                prepare(json.dumps(e) for e in _orders(promoter, effective)))
        _wait_for(books, {"e2e-before", "e2e-after"}, worker)
    finally:
        stop.set()
        worker.join(timeout=30)
    assert not worker.is_alive() and result["stats"].tally.rejected == 0
    _check_books(books, promoter, old, new)
    books.dispose()
