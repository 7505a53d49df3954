"""A promoter's own key (its name is the promoter id) reads its balances and statements and asks
for its withdrawals under `/v1/me`, with the same answers and rules as the finance routes; P1's
key never reads nor withdraws for P2: not through `/v1/me` (nothing there takes a promoter id,
P2's payee is refused), and not through the finance routes (403)."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from settlement.personal_data import generate_key
from tests.api.books_app import books_app, keyed_books


def _earns(promoter: str, amount: str) -> list[dict]:
    customer, order = f"c-{promoter}", f"O-{promoter}"
    return [
        {"event_id": f"j-{promoter}", "type": "promoter_joined", "ts": "2026-03-01T00:00:00Z",
         "promoter_id": promoter},
        {"event_id": f"t-{promoter}", "type": "touch", "ts": "2026-03-02T01:00:00Z",
         "customer_id": customer, "promoter_id": promoter},
        {"event_id": f"o-{promoter}", "type": "order_paid", "ts": "2026-03-02T02:00:00Z",
         "order_id": order, "customer_id": customer, "merchant_id": "m1", "currency": "CNY",
         "lines": [{"sku": "s", "category": "food", "amount": amount}]},
        {"event_id": f"c-{promoter}", "type": "order_confirmed", "ts": "2026-03-03T00:00:00Z",
         "order_id": order},
    ]


@pytest.fixture
def client(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """P1 has 20,000.00 available, P2 30,000.00; each has a wallet payee and a promoter key."""
    monkeypatch.setenv("FENRUN_DATA_KEYS", generate_key())
    monkeypatch.setenv("FENRUN_BANK_FILE_DIR", str(tmp_path / "bank"))
    books = keyed_books(f"sqlite:///{tmp_path / 'books.db'}")
    with TestClient(books_app(books, burst=10_000), headers=books.headers("finance")) as client:
        mall, admin = books.headers("mall"), books.headers("admin")
        sent = client.post("/v1/events", headers=mall,
                           json={"events": _earns("P1", "200000.00") + _earns("P2", "300000.00")})
        assert {r["status"] for r in sent.json()["results"]} == {"applied"}
        client.post("/v1/payouts/run", json={"as_of": "2026-03-20T00:00:00Z",
                                             "hold_flagged": False})  # releases; both wait
        client.admin = admin  # type: ignore[attr-defined]
        client.keys = {}  # type: ignore[attr-defined]
        client.payees = {}  # type: ignore[attr-defined]
        for promoter in ("P1", "P2"):
            key = client.post("/v1/keys", headers=admin, json={"role": "promoter",
                                                                "name": promoter})
            client.keys[promoter] = {"Authorization": f"Bearer {key.json()['key']}"}
            payee = client.post(f"/v1/promoters/{promoter}/payees", headers=mall, json={
                "method": "alipay", "holder_name": "张三", "account": f"{promoter}@example.com"})
            client.payees[promoter] = payee.json()["payee_id"]
        yield client


def test_my_balances_are_the_finance_answer_for_my_promoter_only(client):
    p1, p2 = client.keys["P1"], client.keys["P2"]
    mine = client.get("/v1/me/balances", headers=p1)
    assert mine.status_code == 200, mine.text
    assert mine.json() == client.get("/v1/promoters/P1/balances").json()
    assert (mine.json()["promoter_id"], mine.json()["available"]) == ("P1", "20000.00")
    assert client.get("/v1/me/balances", headers=p2).json()["available"] == "30000.00"
    assert client.get("/v1/promoters/P2/balances", headers=p1).status_code == 403
    assert client.get("/v1/me/balances", headers=p1,
                      params={"promoter_id": "P2"}).json()["promoter_id"] == "P1"


def test_i_withdraw_for_myself_and_never_for_another(client):
    p1, p2 = client.keys["P1"], client.keys["P2"]
    asked = client.post("/v1/me/withdrawals", headers=p1,
                        json={"amount": "100.00", "request_key": "me-1"})
    assert asked.status_code == 200, asked.text
    w = asked.json()
    assert (w["promoter_id"], w["payee_id"], w["status"], w["hold_reason"]) == (
        "P1", client.payees["P1"], "requested", "new_payee")  # the same rules as finance's
    assert client.post("/v1/me/withdrawals", headers=p1,
                       json={"amount": "100.00", "request_key": "me-1"}).json() == w  # a retry

    to_p2 = client.post("/v1/me/withdrawals", headers=p1, json={
        "amount": "100.00", "request_key": "me-2", "payee_id": client.payees["P2"]})
    assert (to_p2.status_code, to_p2.json()["code"]) == (422, "withdrawal_refused")
    assert f"payee_id: {client.payees['P2']} is not P1's active payee" in to_p2.json()["detail"]
    smuggled = client.post("/v1/me/withdrawals", headers=p1, json={
        "promoter_id": "P2", "amount": "100.00", "request_key": "me-3"})
    assert smuggled.json()["promoter_id"] == "P1"  # a promoter id in the body is ignored
    assert client.post("/v1/withdrawals", headers=p1, json={
        "promoter_id": "P2", "amount": "100.00", "request_key": "me-4"}).status_code == 403
    too_much = client.post("/v1/me/withdrawals", headers=p1,
                           json={"amount": "25000.00", "request_key": "me-5"})
    assert too_much.status_code == 422 and "has available" in too_much.json()["detail"]

    assert client.get("/v1/me/balances", headers=p2).json()["available"] == "30000.00"
    assert client.get("/v1/me/withdrawals", headers=p2).json() == {"withdrawals": []}
    mine = client.get("/v1/me/withdrawals", headers=p1).json()["withdrawals"]
    assert {x["promoter_id"] for x in mine} == {"P1"} and len(mine) == 2
    assert client.get("/v1/me/withdrawals", headers=p1, params={"status": "approved"}
                      ).json() == {"withdrawals": []}
    assert client.get("/v1/withdrawals", headers=p1).status_code == 403


def test_my_statement_is_mine(client):
    p1, p2 = client.keys["P1"], client.keys["P2"]
    assert client.get("/v1/me/statements/2026-03", headers=p1).status_code == 404  # not built
    assert client.post("/v1/statements/build", json={"period": "2026-03"}).status_code == 200
    mine = client.get("/v1/me/statements/2026-03", headers=p1)
    assert mine.status_code == 200, mine.text
    assert mine.json() == client.get("/v1/promoters/P1/statements/2026-03").json()
    assert mine.json()["statement"]["promoter_id"] == "P1"
    assert client.get("/v1/me/statements/2026-03", headers=p2
                      ).json()["statement"]["promoter_id"] == "P2"
    assert client.get("/v1/promoters/P2/statements/2026-03", headers=p1).status_code == 403
    bad = client.get("/v1/me/statements/March", headers=p1)
    assert bad.status_code == 422


def test_erasing_a_promoter_with_a_withdrawal_on_its_way_is_409_naming_it(client):
    asked = client.post("/v1/me/withdrawals", headers=client.keys["P1"],
                        json={"amount": "100.00", "request_key": "me-1"}).json()
    assert client.post("/v1/people/P1/erase", json={}).status_code == 403  # finance may not
    erase = client.post("/v1/people/P1/erase", json={}, headers=client.admin)
    assert (erase.status_code, erase.json()["code"]) == (409, "erasure_refused")
    detail = erase.json()["detail"]
    assert f"withdrawal {asked['withdrawal_id']} is waiting for a reviewer" in detail
    assert client.get("/v1/promoters/P1/payees").json()["payees"][0]["account"] != "(erased)"
