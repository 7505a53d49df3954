"""With Kafka configured, `POST /v1/events` publishes the parsed events to the orders topic
(202 with their ids, in time order), keyed as `fenrun produce` keys them, and applies nothing
itself; unparseable elements are answered `rejected` and not published."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from settlement import tables as t
from settlement.db import create_db_engine
from settlement.stream.producer import ensure_topics
from tests.api.books_app import books_app, keyed_books
from tests.stream.test_worker import _drain

JOIN = {"event_id": "j1", "type": "promoter_joined", "ts": "2026-03-01T00:00:00Z",
        "promoter_id": "P1"}
PAID = {"event_id": "o1", "type": "order_paid", "ts": "2026-03-01T02:00:00Z", "order_id": "O1",
        "customer_id": "C1", "merchant_id": "m1", "currency": "CNY",
        "lines": [{"sku": "s", "category": "food", "amount": "100.00"}]}
CONFIRMED = {"event_id": "c1", "type": "order_confirmed", "ts": "2026-03-02T00:00:00Z",
             "order_id": "O1"}


@pytest.mark.integration
def test_events_are_published_keyed_for_the_worker(kafka_bootstrap: str, topic_prefix: str,
                                                   tmp_path: Path, monkeypatch) -> None:
    topic = f"{topic_prefix}.orders"
    monkeypatch.setenv("FENRUN_ORDERS_TOPIC", topic)
    ensure_topics(kafka_bootstrap, {topic: 3})
    books = keyed_books(f"sqlite:///{tmp_path / 'books.db'}")
    with TestClient(books_app(books, bootstrap=kafka_bootstrap),
                    headers=books.headers("mall")) as client:
        first = client.post("/v1/events", json={"events": [PAID, JOIN, {"type": "nope"}]})
        second = client.post("/v1/events", json={"events": [CONFIRMED]})
        metrics = client.get("/metrics").text
    assert first.status_code == 202, first.text
    assert first.json()["published"] == ["j1", "o1"]  # time order
    assert [r["status"] for r in first.json()["rejected"]] == ["rejected"]
    assert second.json()["published"] == ["c1"]
    seen = {json.loads(m.value)["event_id"]: m.key for m in _drain(kafka_bootstrap, topic, 3)}
    # promoter events by promoter; a confirmation by the customer of the payment seen before
    assert seen == {"j1": b"P1", "o1": b"C1", "c1": b"C1"}
    # no worker has applied anything yet: the lag is every message published, per partition
    lag = [float(line.rsplit(" ", 1)[1]) for line in metrics.splitlines()
           if line.startswith("fenrun_stream_lag_messages{")]
    assert len(lag) == 3 and sum(lag) == 3, [m for m in metrics.splitlines() if "stream" in m]
    assert "fenrun_stream_lag_errors_total 0.0" in metrics
    engine = create_db_engine(books.url)
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(t.events)).scalar_one() == 0
    engine.dispose()
