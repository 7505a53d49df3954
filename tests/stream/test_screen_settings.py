"""The Kafka worker runs the order-time screen configured at its entry point: `fenrun consume`
hands `SettlementSettings.order_screen_for` down, and a worker on a real broker (Tansu) with
the self-referral rule off and a cap holds exactly the orders above the cap (the default screen
would hold the two self-referred ones instead)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from typer.testing import CliRunner

from api.cli import app
from settlement.config import SettlementSettings
from settlement.db import create_db_engine, upgrade
from settlement.order_screen import OrderScreen
from settlement.plan import parse_plan_text
from settlement.plan_store import store_versions
from settlement.read_model import held_orders
from settlement.stream.config import StreamSettings
from settlement.stream.producer import ensure_topics, prepare, publish
from settlement.stream.worker import run_worker
from tests.conftest import DEFAULT_PLAN, EventFactory
from tests.settlement.test_order_screen import _mall


def test_fenrun_consume_hands_the_configured_screen_to_the_worker(monkeypatch, tmp_path):
    seen: dict[str, Any] = {}

    def fake_worker(stream, database_url, exit_when_idle_s=None, should_stop=None, screen=None):
        seen["screen"] = screen("CNY")
        raise ValueError("stopped by the test")

    monkeypatch.setattr("settlement.stream.worker.run_worker", fake_worker)
    monkeypatch.setattr("faulthandler.register", lambda *args, **kwargs: None)  # no real stderr
    monkeypatch.setattr("signal.signal", lambda *args: None)
    monkeypatch.setenv("FENRUN_KAFKA_BOOTSTRAP", "127.0.0.1:1")
    monkeypatch.setenv("FENRUN_DATABASE_URL", f"sqlite:///{tmp_path / 'b.db'}")
    monkeypatch.setenv("FENRUN_ORDER_SCREEN_SELF_REFERRAL", "off")
    monkeypatch.setenv("FENRUN_ORDER_SCREEN_CAP_PER_ORDER", "12.34")
    done = CliRunner().invoke(app, ["consume"])
    assert done.exit_code == 2 and "stopped by the test" in done.output
    assert seen["screen"] == OrderScreen(True, False, 1234)


@pytest.mark.integration
def test_a_worker_holds_the_orders_its_configured_screen_flags(
        kafka_bootstrap, topic_prefix, postgres_url):
    books = create_db_engine(postgres_url)
    upgrade(books)
    with books.begin() as conn:
        store_versions(conn, parse_plan_text(DEFAULT_PLAN))
    settings = StreamSettings(
        kafka_bootstrap=kafka_bootstrap, orders_topic=f"{topic_prefix}.orders",
        dlq_topic=f"{topic_prefix}.dlq", commissions_topic=f"{topic_prefix}.commissions",
        consumer_group=f"{topic_prefix}-group", session_timeout_ms=4000,
        heartbeat_interval_ms=500, max_poll_interval_ms=8000)
    ensure_topics(kafka_bootstrap, {settings.orders_topic: 2})
    publish(kafka_bootstrap, settings.orders_topic,
            prepare(json.dumps(e.payload) for e in _mall(EventFactory())))
    screen = SettlementSettings(order_screen_self_referral="off",
                                order_screen_cap_per_order="99.99")
    stats = run_worker(settings, postgres_url, exit_when_idle_s=2,
                       screen=screen.order_screen_for)
    assert stats.tally.applied == len(_mall(EventFactory()))
    with books.connect() as conn:
        assert held_orders(conn, ["own", "upline", "honest"]) == {"own", "upline", "honest"}
    books.dispose()
