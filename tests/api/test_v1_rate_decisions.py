"""Proves approve and reject over HTTP decide through the same functions as `fenrun rates`: an
approval becomes a promoter override in a new plan version, recorded with the key's name and the
note, and the mall's route serves it without a restart; a shadow suggestion is never applied,
the kill switch refuses every approval, and the experiment report answers from the ledger."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from settlement import rate_suggestions as rs
from settlement import rate_tables as rt
from settlement import read_model
from settlement.db import create_db_engine
from settlement.plan_store import load_plan_book
from tests.api.books_app import books_app, keyed_books
from tests.rate_store import store, suggestion

JOIN = {"event_id": "j1", "type": "promoter_joined", "ts": "2026-02-01T00:00:00Z",
        "promoter_id": "P1"}


def _books(root: Path):
    books = keyed_books(f"sqlite:///{root / 'books.db'}")
    engine = create_db_engine(books.url)
    [live] = store(engine, [suggestion("P1")])
    [shadow] = store(engine, [suggestion("P2")], mode=rs.SuggestionMode.SHADOW)
    engine.dispose()
    return books, live, shadow


def test_approve_and_reject_over_http(tmp_path: Path) -> None:
    books, live, shadow = _books(tmp_path)
    growth = books.headers("growth")
    with TestClient(books_app(books, rates_refresh_s=0.05)) as client:
        client.post("/v1/events", json={"events": [JOIN]}, headers=books.headers("mall"))
        refused = client.post(f"/v1/rates/suggestions/{shadow}/approve", json={}, headers=growth)
        assert refused.status_code == 409 and "shadow" in refused.json()["detail"]
        early = client.post(f"/v1/rates/suggestions/{live}/approve", headers=growth,
                            json={"effective_from": datetime.now(UTC).isoformat()})
        assert early.status_code == 409 and "notice period" in early.json()["detail"]
        approved = client.post(f"/v1/rates/suggestions/{live}/approve", headers=growth,
                               json={"note": "strong customers"})
        assert approved.status_code == 200, approved.text
        body = approved.json()
        [decided] = body["suggestions"]
        assert (decided["status"], decided["decided_by"], decided["note"]) == (
            "approved", "growth-test", "strong customers")
        assert decided["plan_version_id"] == body["plan_version_id"]
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            served = client.get("/v1/promoters/P1/recommended-rate",
                                headers=books.headers("mall")).json()
            if served["status"] == "approved":
                break
            time.sleep(0.02)
        assert served["status"] == "approved" and served["recommended_rate"] == "0.12"
        assert served["effective_from"] == body["effective_from"]
        again = client.post(f"/v1/rates/suggestions/{live}/reject", headers=growth,
                            json={"note": "changed my mind"})
        assert again.status_code == 409 and "approved" in again.json()["detail"]
        no_reason = client.post(f"/v1/rates/suggestions/{shadow}/reject", headers=growth,
                                json={"note": ""})
        assert no_reason.status_code == 422
        rejected = client.post(f"/v1/rates/suggestions/{shadow}/reject", headers=growth,
                               json={"note": "not now"})
        assert rejected.json()["suggestions"][0]["decided_by"] == "growth-test"
    engine = create_db_engine(books.url)
    with engine.connect() as conn:
        version = load_plan_book(conn).by_id(body["plan_version_id"])
        [assignment] = read_model.rate_assignments(conn, promoter_id="P1")
    engine.dispose()
    assert version.document["promoter_overrides"] == {"P1": "0.12"}
    assert (assignment.rate, assignment.recorded_by) == ("0.12", "growth-test")


def test_the_kill_switch_refuses_approvals(tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    books, live, _ = _books(tmp_path)
    monkeypatch.setenv("FENRUN_RATES_KILL_SWITCH", "true")
    with TestClient(books_app(books)) as client:
        response = client.post(f"/v1/rates/suggestions/{live}/approve", json={},
                               headers=books.headers("growth"))
    assert response.status_code == 409 and "kill switch" in response.json()["detail"]


def test_experiment_report_over_http(tmp_path: Path) -> None:
    books, *_ = _books(tmp_path)
    engine = create_db_engine(books.url)
    with engine.begin() as conn:
        experiment = rs.start_experiment(conn, 0.5, 3, datetime(2026, 2, 1, tzinfo=UTC), "t")
        conn.execute(rt.rate_experiment_members.insert(), [
            {"experiment_id": experiment.experiment_id, "promoter_id": p, "arm": arm,
             "draw": 0.5, "joined_at": experiment.started_at}
            for p, arm in (("P1", "treated"), ("P2", "control"))])
    engine.dispose()
    with TestClient(books_app(books)) as client:
        client.post("/v1/events", json={"events": [
            {**JOIN, "ts": "2026-02-15T00:00:00Z"}]}, headers=books.headers("mall"))
        response = client.get("/v1/rates/experiment/report", headers=books.headers("finance"))
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["treated"], body["control"]) == (1, 1)
    assert [c["metric"] for c in body["comparisons"]] == ["margin", "gmv", "commission",
                                                          "retention"]
    assert body["comparisons"][1]["low"] is None  # one member a group: no interval
    assert "Welch" in body["method"] and body["note"]
