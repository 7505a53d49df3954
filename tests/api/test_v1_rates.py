"""Proves the rate routes: the mall's recommended rate carries exactly the issue's fields with the
status a suggestion has at the instant asked, a promoter without a suggestion is told so, newly
published suggestions are served without a restart or a failed request (a failed refresh keeps
the old answers), and the growth routes list, show, and cost suggestions (what-if)."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine

from serving.rate_advice import RateAdviceStore
from settlement import rate_suggestions as rs
from settlement.db import create_db_engine
from tests.api.books_app import books_app, keyed_books
from tests.rate_store import AT, store, suggestion

FIELDS = {"promoter_id", "current_rate", "recommended_rate", "cadence", "status",
          "effective_from", "valid_until", "model_versions", "guardrails", "explanation",
          "propensity"}
EVENTS = [
    {"event_id": "j1", "type": "promoter_joined", "ts": "2026-02-01T00:00:00Z",
     "promoter_id": "P1"},
    {"event_id": "t1", "type": "touch", "ts": "2026-02-01T01:00:00Z", "customer_id": "C1",
     "promoter_id": "P1", "kind": "register"},
    {"event_id": "o1", "type": "order_paid", "ts": "2026-02-10T02:00:00Z", "order_id": "O1",
     "customer_id": "C1", "merchant_id": "m1", "currency": "CNY",
     "lines": [{"sku": "s", "category": "food", "amount": "100.00"}]},
]


def _seed(url: str) -> dict[str, str]:
    engine = create_db_engine(url)
    [p1, p2, p3, p4, p5] = store(engine, [
        suggestion("P1"), suggestion("P2", proposed="0.10", status=rs.SuggestionStatus.BLOCKED),
        suggestion("P3"), suggestion("P4"), suggestion("P5")])
    [p6] = store(engine, [suggestion("P6")], mode=rs.SuggestionMode.SHADOW)
    approved = rs.SuggestionStatus.APPROVED
    with engine.begin() as conn:
        rs.decide(conn, p3, rs.Decision(rs.SuggestionStatus.REJECTED, "ana", AT, "too soon"))
        rs.decide(conn, p4, rs.Decision(approved, "bo", AT, None,
                                        datetime(2026, 3, 8, tzinfo=UTC), "v1"))
        rs.decide(conn, p5, rs.Decision(approved, "bo", AT, None,
                                        datetime(2099, 1, 1, tzinfo=UTC), "v2"))
    engine.dispose()
    return {"P1": p1, "P2": p2, "P3": p3, "P4": p4, "P5": p5, "P6": p6}


@pytest.fixture(scope="module")
def rated(tmp_path_factory: pytest.TempPathFactory):
    root: Path = tmp_path_factory.mktemp("rates")
    books = keyed_books(f"sqlite:///{root / 'books.db'}")
    ids = _seed(books.url)
    with TestClient(books_app(books, burst=10_000, rates_refresh_s=0.05)) as client:
        assert client.post("/v1/events", json={"events": EVENTS},
                           headers=books.headers("mall")).status_code == 200
        yield client, books, ids


def _rate(client: TestClient, books, promoter: str) -> dict:
    response = client.get(f"/v1/promoters/{promoter}/recommended-rate",
                          headers=books.headers("mall"))
    assert response.status_code == 200, response.text
    return response.json()


def test_the_mall_gets_exactly_the_issue_fields(rated) -> None:
    client, books, _ = rated
    body = _rate(client, books, "P1")
    assert set(body) == FIELDS
    assert (body["current_rate"], body["recommended_rate"], body["status"]) == (
        "0.1", "0.12", "pending")
    assert body["guardrails"] == [
        {"name": "max_step", "outcome": "clip", "rate_after": "0.12", "detail": "step above 0.02"},
        {"name": "budget", "outcome": "pass", "rate_after": "0.12",
         "detail": "within 12.5 % of GMV"}]
    assert body["model_versions"] == {"fenrun-rate-policy": "3"}
    assert body["valid_until"] == "2026-03-31T00:00:00Z"  # one 30-day cycle after the as-of
    assert body["effective_from"] is None and body["propensity"] == 0.98
    assert body["cadence"] == "standard" and "3.4x" in body["explanation"]


def test_each_status_as_the_mall_sees_it(rated) -> None:
    client, books, _ = rated
    seen = {p: _rate(client, books, p) for p in ("P2", "P3", "P4", "P5", "P6")}
    assert {p: (b["status"], b["recommended_rate"]) for p, b in seen.items()} == {
        "P2": ("live", "0.1"),  # blocked: the current rate stays in force
        "P3": ("live", "0.1"),  # rejected
        "P4": ("live", "0.12"),  # approved from Mar 8 (past)
        "P5": ("approved", "0.12"),  # approved from 2099
        "P6": ("shadow", "0.12")}  # advice only
    assert seen["P2"]["explanation"].startswith("Current rate kept: blocked by a guardrail")
    assert seen["P3"]["explanation"].startswith("Current rate kept: rejected by ana (too soon)")
    assert seen["P5"]["effective_from"] == "2099-01-01T00:00:00Z"


def test_a_promoter_without_a_suggestion_is_told_so(rated) -> None:
    client, books, _ = rated
    response = client.get("/v1/promoters/NOBODY/recommended-rate", headers=books.headers("mall"))
    assert response.status_code == 404
    assert response.json()["code"] == "no_suggestion"
    assert "NOBODY" in response.json()["detail"]


def test_a_new_run_is_served_without_restart_or_failed_request(rated) -> None:
    client, books, _ = rated
    engine = create_db_engine(books.url)
    store(engine, [suggestion("P1", proposed="0.14"), suggestion("P7")],
          at=datetime(2026, 3, 2, tzinfo=UTC))
    engine.dispose()
    deadline, served = time.monotonic() + 10.0, []
    while time.monotonic() < deadline:
        served.append(_rate(client, books, "P1")["recommended_rate"])  # asserts 200 each time
        if served[-1] == "0.14":
            break
        time.sleep(0.01)
    assert served[-1] == "0.14", served[-5:]
    assert set(served) <= {"0.12", "0.14"}
    assert _rate(client, books, "P7")["status"] == "pending"


def test_a_failed_refresh_keeps_serving_the_old_answers(rated) -> None:
    _, books, _ = rated
    engine = create_db_engine(books.url)
    advice = RateAdviceStore(engine, refresh_s=60)
    assert advice.refresh() and advice.generation == 1
    advice.books = create_engine("sqlite:////nonexistent-dir/fenrun/books.db")
    assert not advice.refresh()
    assert advice.last_error and "OperationalError" in advice.last_error
    assert advice.advice("P1").promoter_id == "P1" and advice.generation == 1
    engine.dispose()


def test_growth_lists_and_reads_one_suggestion_with_its_trail(rated) -> None:
    client, books, ids = rated
    growth = books.headers("growth")
    listed = client.get("/v1/rates/suggestions", params={"status": "rejected"}, headers=growth)
    assert listed.status_code == 200
    [rejected] = listed.json()["suggestions"]
    assert (rejected["promoter_id"], rejected["decided_by"], rejected["note"]) == (
        "P3", "ana", "too soon")
    one = client.get(f"/v1/rates/suggestions/{ids['P4']}", headers=growth).json()
    assert one["status"] == "approved" and one["plan_version_id"] == "v1"
    assert [g["name"] for g in one["guardrails"]] == ["max_step", "budget"]
    assert one["drivers"][0]["name"] == "ltv_cac"
    assert one["predicted"]["margin"] == {"delta": "12.30", "low": "4.10", "high": "20.50"}
    by_promoter = client.get("/v1/rates/suggestions", params={"promoter_id": "P2"},
                             headers=growth).json()["suggestions"]
    assert [s["status"] for s in by_promoter] == ["blocked"]
    missing = client.get("/v1/rates/suggestions/rs_nothing", headers=growth)
    assert missing.status_code == 404 and missing.json()["code"] == "not_found"
    assert client.get("/v1/rates/suggestions", headers=books.headers("mall")).status_code == 403


def test_what_if_over_http_is_exact_and_names_its_source(rated) -> None:
    client, books, _ = rated
    response = client.post("/v1/rates/what-if", headers=books.headers("finance"), json={
        "from": "2026-02-05T00:00:00Z", "to": "2026-02-20T00:00:00Z",
        "rates": {"P1": "0.12"}})
    assert response.status_code == 200, response.text
    body = response.json()
    # O1: food 100.00 through P1 (bound): 10 % = 10.00 in the books, 12 % = 12.00.
    assert body["total"] == {"key": "total", "baseline": "10.00", "scenario": "12.00",
                             "change": "2.00"}
    assert body["by_merchant"] == [{"key": "m1", "baseline": "10.00", "scenario": "12.00",
                                    "change": "2.00"}]
    assert body["by_segment"][0]["key"] == "(no segment)"
    assert body["source"] == "given rates" and body["promoters"] == 1
    backwards = client.post("/v1/rates/what-if", headers=books.headers("growth"), json={
        "from": "2026-02-20T00:00:00Z", "to": "2026-02-05T00:00:00Z"})
    assert backwards.status_code == 422 and "--from" in backwards.json()["detail"]


def test_requests_are_counted_by_route_and_status(rated) -> None:
    # /metrics counts through a plain ASGI middleware (api.metrics.CountedRequests).
    client, books, _ = rated
    _rate(client, books, "P1")
    client.get("/v1/promoters/NOBODY/recommended-rate", headers=books.headers("mall"))
    lines = client.get("/metrics").text.splitlines()
    route = 'route="/v1/promoters/{promoter_id:path}/recommended-rate"'
    counted = {line.split("status=")[1][1:4]: float(line.rsplit(" ", 1)[1]) for line in lines
               if line.startswith("fenrun_http_requests_total") and route in line}
    assert counted["200"] >= 1 and counted["404"] >= 1
    assert any(line.startswith("fenrun_http_request_seconds_count") and route in line
               for line in lines)
