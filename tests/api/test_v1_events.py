"""`POST /v1/events` decides each event as `fenrun settle` does: one result per event in request
order, a retried request changes nothing, a malformed request stores nothing, and a simulated
week posted in batches (some sent twice, later) ends with the same books as `settle` on the file."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from typer.testing import CliRunner

from api.cli import app as cli
from settlement import tables as t
from settlement.db import create_db_engine
from settlement.errors import InvalidEvent
from settlement.events import parse_json_line
from settlement.reports import balances_document
from tests.api.books_app import books_app, keyed_books

JOIN = {"event_id": "j1", "type": "promoter_joined", "ts": "2026-03-01T00:00:00Z",
        "promoter_id": "P1"}
TOUCH = {"event_id": "t1", "type": "touch", "ts": "2026-03-01T01:00:00Z", "customer_id": "C1",
         "promoter_id": "P1", "kind": "click"}
PAID = {"event_id": "o1", "type": "order_paid", "ts": "2026-03-01T02:00:00Z", "order_id": "O1",
        "customer_id": "C1", "merchant_id": "m1", "currency": "CNY",
        "lines": [{"sku": "s", "category": "food", "amount": "100.00"}]}


@pytest.fixture
def books(db_url: str):
    """On SQLite and PostgreSQL (the `db_url` fixture)."""
    return keyed_books(db_url)


@pytest.fixture
def client(books):
    with TestClient(books_app(books, events_per_request=10),
                    headers=books.headers("mall")) as client:
        yield client


def _stored(url: str) -> int:
    engine = create_db_engine(url)
    with engine.connect() as conn:
        count = conn.execute(select(func.count()).select_from(t.events)).scalar_one()
    engine.dispose()
    return int(count)


def test_results_come_back_in_request_order_and_a_retry_changes_nothing(client, books):
    # Sent out of time order: applied in time order (the join first), answered in request order.
    body = {"events": [PAID, TOUCH, JOIN]}
    first = client.post("/v1/events", json=body)
    assert first.status_code == 200, first.text
    assert [(r["event_id"], r["status"]) for r in first.json()["results"]] == [
        ("o1", "applied"), ("t1", "applied"), ("j1", "applied")]
    again = client.post("/v1/events", json=body).json()["results"]
    assert [r["status"] for r in again] == ["duplicate"] * 3
    other = client.post("/v1/events", json={"events": [{**JOIN, "promoter_id": "P2"}]})
    assert other.json()["results"][0]["status"] == "conflict"
    assert _stored(books.url) == 3


def test_a_malformed_event_is_rejected_with_the_reason_settle_gives(client):
    bad = {**TOUCH, "event_id": "t2", "ts": "yesterday"}
    with pytest.raises(InvalidEvent) as settle_says:
        parse_json_line(json.dumps(bad))
    results = client.post("/v1/events", json={"events": [JOIN, bad, 7]}).json()["results"]
    assert results[0]["status"] == "applied"
    assert results[1] == {"event_id": "t2", "status": "rejected", "reason": str(settle_says.value)}
    assert results[2]["status"] == "rejected" and results[2]["event_id"] is None


def test_a_refused_rule_is_rejected_with_the_engine_reason(client):
    results = client.post("/v1/events", json={"events": [TOUCH]}).json()["results"]
    assert results[0]["status"] == "rejected" and "P1" in results[0]["reason"]


@pytest.mark.parametrize(("body", "status", "code"), [
    (b"not json", 422, "invalid_request"),
    (b'{"orders": []}', 422, "invalid_request"),
    (b'{"events": {"a": 1}}', 422, "invalid_request"),
    (json.dumps({"events": [JOIN] * 11}).encode(), 413, "too_large"),
])
def test_a_malformed_request_is_refused_and_stores_nothing(client, books, body, status, code):
    response = client.post("/v1/events", content=body,
                           headers={"Content-Type": "application/json"})
    assert (response.status_code, response.json()["code"]) == (status, code)
    assert _stored(books.url) == 0


def _journal(url: str) -> tuple[list[Any], list[Any], dict[str, Any]]:
    engine = create_db_engine(url)
    with engine.connect() as conn:
        j, p = t.journal_entries.c, t.postings.c
        entries = conn.execute(select(j.entry_id, j.kind, j.occurred_at, j.event_id,
                                      j.plan_version_id).order_by(j.entry_id)).all()
        postings = conn.execute(select(p.entry_id, p.account_kind, p.owner_id, p.currency,
                                       p.amount_minor).order_by(
            p.entry_id, p.account_kind, p.owner_id)).all()
        document = balances_document(conn)
    engine.dispose()
    return [tuple(r) for r in entries], [tuple(r) for r in postings], document


@pytest.mark.slow
def test_a_simulated_week_posted_in_batches_with_retries_settles_like_the_file(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from features.simulator import SimulationConfig, simulate

    simulate(tmp_path / "sim", SimulationConfig(promoters=4000, days=7, seed=5))
    events_file, plan = tmp_path / "sim" / "events.jsonl", tmp_path / "sim" / "plan.yaml"
    settled_url = f"sqlite:///{tmp_path / 'settled.db'}"
    monkeypatch.setenv("FENRUN_DATABASE_URL", settled_url)
    result = CliRunner().invoke(cli, ["settle", str(events_file), "--plan", str(plan)])
    assert result.exit_code == 0, result.output

    books = keyed_books(f"sqlite:///{tmp_path / 'posted.db'}", plan=plan.read_text())
    lines = [json.loads(line) for line in events_file.read_text().splitlines() if line.strip()]
    lines.sort(key=lambda event: parse_json_line(json.dumps(event)).ts)
    batches = [lines[i:i + 500] for i in range(0, len(lines), 500)]
    assert len(batches) >= 15  # so 5 % of them is at least one batch
    rng = random.Random(11)
    resent = set(rng.sample(range(len(batches)), max(1, round(len(batches) * 0.05))))
    later: dict[int, list[int]] = {}
    for index in resent:  # a client's retry, sent again after a later batch
        later.setdefault(rng.randrange(index, len(batches)), []).append(index)
    statuses: list[str] = []
    with TestClient(books_app(books, events_per_request=500),
                    headers=books.headers("mall")) as client:
        for index in range(len(batches)):
            for number in [index, *later.get(index, [])]:
                response = client.post("/v1/events", json={"events": batches[number]})
                assert response.status_code == 200, response.text
                statuses += [r["status"] for r in response.json()["results"]]
    assert statuses.count("applied") == len(lines)
    assert statuses.count("duplicate") == sum(len(batches[i]) for i in resent)
    assert _journal(books.url) == _journal(settled_url)
