"""Money out over HTTP: a payee is stored and answered masked; a withdrawal above the review limit
waits, a retry with its key returns it, finance approves it with a reason, the bank batch file
(finance only) carries the clear account, the result file marks it paid, and the balances and
`/v1/ledger/verify` agree; a failed line returns the money; a malformed result file is 422 and
changes nothing; statements are built, served per promoter and exported."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook

from settlement.personal_data import generate_key
from tests.api.books_app import books_app, keyed_books
from tests.finance_store import CARD, earn

EVENTS = earn(1, "P1", "200000.00")


@pytest.fixture
def client(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("FENRUN_DATA_KEYS", generate_key())
    monkeypatch.setenv("FENRUN_BANK_FILE_DIR", str(tmp_path / "bank"))
    books = keyed_books(f"sqlite:///{tmp_path / 'books.db'}")
    with TestClient(books_app(books), headers=books.headers("finance")) as client:
        sent = client.post("/v1/events", json={"events": EVENTS}, headers=books.headers("mall"))
        assert {r["status"] for r in sent.json()["results"]} == {"applied"}
        client.post("/v1/payouts/run", json={"as_of": "2026-03-20T00:00:00Z",
                                             "hold_flagged": False})  # releases; waits (>limit)
        client.mall = books.headers("mall")  # type: ignore[attr-defined]
        yield client


def _available(client) -> str:
    return client.get("/v1/promoters/P1/balances").json()["available"]


def test_withdrawal_waits_is_approved_sent_paid_and_the_books_agree(client):
    payee = client.post("/v1/promoters/P1/payees", headers=client.mall, json={
        "method": "bank_card", "holder_name": "张三丰", "account": CARD, "bank_name": "ICBC"})
    assert payee.status_code == 201, payee.text
    assert (payee.json()["holder"], payee.json()["account"]) == ("张**", "****0123")
    assert CARD not in client.get("/v1/promoters/P1/payees").text

    body = {"promoter_id": "P1", "amount": "15000.00", "request_key": "app-req-1"}
    asked = client.post("/v1/withdrawals", json=body, headers=client.mall)
    assert asked.status_code == 200, asked.text
    w = asked.json()
    assert (w["status"], w["hold_reason"], w["amount"]) == ("requested", "review_limit",
                                                            "15000.00")
    assert client.post("/v1/withdrawals", json=body, headers=client.mall).json() == w
    assert _available(client) == "5000.00"
    assert client.get("/v1/promoters/P1/balances").json()["withdrawing"] == "15000.00"
    refused = client.post(f"/v1/withdrawals/{w['withdrawal_id']}/approve", json={"note": ""})
    assert refused.status_code == 422
    approved = client.post(f"/v1/withdrawals/{w['withdrawal_id']}/approve",
                           json={"note": "called P1"})
    assert (approved.json()["decided_by"], approved.json()["note"]) == ("finance-test",
                                                                      "called P1")
    batch = client.post("/v1/bank/batches").json()["batch"]
    assert (batch["line_count"], batch["total"]) == (1, "15000.00")
    mall_file = client.get(f"/v1/bank/batches/{batch['batch_id']}/file", headers=client.mall)
    assert mall_file.status_code == 403
    bank_file = client.get(f"/v1/bank/batches/{batch['batch_id']}/file")
    assert bank_file.headers["content-type"].startswith("text/csv")
    assert f"{batch['batch_id']},1,张三丰,{CARD},ICBC,15000.00,CNY,withdrawal 1" in bank_file.text

    bad = client.post("/v1/bank/results", content=f"{batch['batch_id']};1;paid",
                      headers={"content-type": "text/csv"})
    assert (bad.status_code, bad.json()["code"]) == (422, "invalid_bank_file")
    result = f"batch_id,line_id,status,reason\n{batch['batch_id']},1,paid,\n"
    paid = client.post("/v1/bank/results", content=result, headers={"content-type": "text/csv"})
    assert paid.json() == {"batch_id": batch["batch_id"], "paid": 1, "failed": 0,
                           "unchanged": 0}
    balance = client.get("/v1/promoters/P1/balances").json()
    assert (balance["available"], balance["paid"]) == ("5000.00", "15000.00")
    assert client.get("/v1/ledger/verify").json() == {"ok": True, "problems": []}
    listed = client.get("/v1/withdrawals", params={"status": "paid"}).json()["withdrawals"]
    assert [x["withdrawal_id"] for x in listed] == [w["withdrawal_id"]]


def test_a_failed_line_returns_the_money_and_bad_requests_change_nothing(client):
    client.post("/v1/promoters/P1/payees", json={"method": "alipay", "holder_name": "Ada",
                                                 "account": "ada@example.com"})
    too_much = client.post("/v1/withdrawals", json={
        "promoter_id": "P1", "amount": "20000.01", "request_key": "x"})
    assert (too_much.status_code, too_much.json()["code"]) == (422, "withdrawal_refused")
    assert "20000.00 CNY P1 has available" in too_much.json()["detail"]
    w = client.post("/v1/withdrawals", json={"promoter_id": "P1", "amount": "300.00",
                                             "request_key": "y"}).json()
    assert w["hold_reason"] == "new_payee"
    client.post(f"/v1/withdrawals/{w['withdrawal_id']}/approve", json={"note": "checked"})
    batch_id = client.post("/v1/bank/batches").json()["batch"]["batch_id"]
    failed = client.post("/v1/bank/results", headers={"content-type": "text/csv"},
                         content=f"batch_id,line_id,status,reason\n{batch_id},1,failed,closed\n")
    assert failed.json()["failed"] == 1
    assert _available(client) == "20000.00"
    assert client.get("/v1/ledger/verify").json()["ok"] is True


def test_statements_are_built_served_and_exported(client):
    assert client.get("/v1/promoters/P1/statements/2026-03").status_code == 404
    built = client.post("/v1/statements/build", json={"period": "2026-03"})
    assert [s["closing"] for s in built.json()["statements"]] == ["20000.00"]
    mine = client.get("/v1/promoters/P1/statements/2026-03").json()
    assert mine["statement"]["commission"] == "20000.00"
    assert [(line["kind"], line["order_id"], line["level"]) for line in mine["lines"]] == [
        ("commission", "O1", 1), ("released", "O1", 1)]
    csv = client.get("/v1/statements/2026-03/export.csv")
    assert csv.text.splitlines()[1].startswith("P1,2026-03,CNY,0.00,20000.00")
    xlsx = client.get("/v1/statements/2026-03/export.xlsx")
    book = load_workbook(io.BytesIO(xlsx.content))
    assert book["lines"].max_row == 3
    bad = client.post("/v1/statements/build", json={"period": "March"})
    assert (bad.status_code, bad.json()["code"]) == (422, "invalid_event")


def test_a_payout_decision_needs_a_reason(client):
    [waiting] = client.get("/v1/payouts", params={"status": "awaiting_approval"}).json()["payouts"]
    for body in ({}, {"note": ""}, {"note": "   "}):
        refused = client.post(f"/v1/payouts/{waiting['payout_id']}/reject", json=body)
        assert (refused.status_code, refused.json()["code"]) == (422, "invalid_request"), body
    rejected = client.post(f"/v1/payouts/{waiting['payout_id']}/reject",
                           json={"note": "promoter asked to withdraw instead"})
    assert (rejected.json()["status"], rejected.json()["decided_by"]) == ("rejected",
                                                                          "finance-test")
