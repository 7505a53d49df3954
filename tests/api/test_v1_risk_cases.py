"""Risk cases over HTTP for the risk role: the queue by money at risk, a case's evidence, and
decisions recorded with the key's name and the note; confirming twice books nothing new, a
decided case refuses to move (409 case_error), and the ledger verifies."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from serving.risk_cases import open_cases
from settlement.db import create_db_engine
from settlement.risk_domain import RiskFlag
from tests.api.books_app import books_app, keyed_books
from tests.conftest import EventFactory
from tests.settlement.test_risk_cases import _mall


def test_the_risk_team_works_a_case_over_http(tmp_path: Path) -> None:
    books = keyed_books(f"sqlite:///{tmp_path / 'books.db'}")
    with TestClient(books_app(books), headers=books.headers("risk")) as client:
        events = [e.payload for e in _mall(EventFactory())]
        sent = client.post("/v1/events", json={"events": events}, headers=books.headers("mall"))
        assert {r["status"] for r in sent.json()["results"]} == {"applied"}
        engine = create_db_engine(books.url)
        [fraud, honest] = open_cases(engine, [
            RiskFlag("F", "self_referral", "high", {"orders": ["f1", "f2", "f3"]}),
            RiskFlag("H2", "velocity", "medium", {"orders": ["x1"]})])
        engine.dispose()

        queue = client.get("/v1/risk/cases").json()["cases"]
        assert [(c["case_id"], c["money_at_risk"]) for c in queue] == [(fraud, "764.83"),
                                                                       (honest, "250.00")]
        detail = client.get(f"/v1/risk/cases/{fraud}").json()
        assert [o["order_id"] for o in detail["orders"]] == ["f1", "f2", "f3"]
        assert detail["flags"][0]["evidence"] == {"orders": ["f1", "f2", "f3"]}

        taken = client.post(f"/v1/risk/cases/{fraud}/investigate", json={"note": "on it"})
        assert taken.json()["case"]["status"] == "investigating"
        confirmed = client.post(f"/v1/risk/cases/{fraud}/confirm", json={"note": "same phone"})
        assert confirmed.status_code == 200, confirmed.text
        body = confirmed.json()
        assert body["changed"] and body["reversed"] == "764.83" and body["suspended"]
        assert body["reversed_per_promoter"] == {"F": "449.90", "G": "89.98", "U": "224.95"}
        again = client.post(f"/v1/risk/cases/{fraud}/confirm", json={})
        assert again.status_code == 200 and not again.json()["changed"]
        assert again.json()["entries"] == []
        refused = client.post(f"/v1/risk/cases/{fraud}/dismiss", json={"note": "oops"})
        assert (refused.status_code, refused.json()["code"]) == (409, "case_error")
        trail = client.get(f"/v1/risk/cases/{fraud}").json()["events"]
        assert [(e["action"], e["actor"], e["note"]) for e in trail][-2:] == [
            ("investigating", "risk-test", "on it"), ("confirmed", "risk-test", "same phone")]

        no_reason = client.post(f"/v1/risk/cases/{honest}/dismiss", json={})
        assert (no_reason.status_code, no_reason.json()["code"]) == (422, "invalid_request")
        listed = client.get("/v1/risk/cases", params=[("status", "confirmed")]).json()["cases"]
        assert [c["case_id"] for c in listed] == [fraud]
        verified = client.get("/v1/ledger/verify", headers=books.headers("finance")).json()
        assert verified == {"ok": True, "problems": []}
