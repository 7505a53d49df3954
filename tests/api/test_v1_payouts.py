"""Payouts over HTTP: a run as of an instant (the future refused as by the CLI), a sum above the
review limit waits, approval and rejection record the key's name and the note, the CSV export and
the balances agree, and the ledger verifies."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from fastapi.testclient import TestClient

from tests.api.books_app import books_app, keyed_books


def _order(n: int, promoter: str, amount: str) -> list[dict[str, object]]:
    customer, order = f"C{n}", f"O{n}"
    return [
        {"event_id": f"j{n}", "type": "promoter_joined", "ts": "2026-03-01T00:00:00Z",
         "promoter_id": promoter},
        {"event_id": f"t{n}", "type": "touch", "ts": "2026-03-01T01:00:00Z",
         "customer_id": customer, "promoter_id": promoter, "kind": "click"},
        {"event_id": f"o{n}", "type": "order_paid", "ts": "2026-03-01T02:00:00Z",
         "order_id": order, "customer_id": customer, "merchant_id": "m1", "currency": "CNY",
         "lines": [{"sku": "s", "category": "food", "amount": amount}]},
        {"event_id": f"c{n}", "type": "order_confirmed", "ts": "2026-03-02T00:00:00Z",
         "order_id": order},
    ]


def test_a_run_pays_small_sums_and_queues_large_ones_for_a_person(tmp_path: Path) -> None:
    books = keyed_books(f"sqlite:///{tmp_path / 'books.db'}")
    with TestClient(books_app(books), headers=books.headers("finance")) as client:
        events = _order(1, "SMALL", "2000.00") + _order(2, "BIG", "200000.00")
        sent = client.post("/v1/events", json={"events": events}, headers=books.headers("mall"))
        assert {r["status"] for r in sent.json()["results"]} == {"applied"}

        future = (datetime.now(UTC) + timedelta(days=1)).isoformat()
        refused = client.post("/v1/payouts/run", json={"as_of": future})
        assert (refused.status_code, refused.json()["code"]) == (422, "future_as_of")

        run = client.post("/v1/payouts/run", json={"as_of": "2026-03-20T00:00:00Z"})
        assert run.status_code == 200, run.text
        made = {p["promoter_id"]: p for p in run.json()["payouts"]}
        assert made["SMALL"]["status"] == "paid" and made["SMALL"]["amount"] == "200.00"
        assert made["BIG"]["status"] == "awaiting_approval"
        assert made["BIG"]["hold_reason"] == "review_limit"

        waiting = client.get("/v1/payouts", params={"status": "awaiting_approval"}).json()
        assert [p["promoter_id"] for p in waiting["payouts"]] == ["BIG"]
        big = made["BIG"]["payout_id"]
        approved = client.post(f"/v1/payouts/{big}/approve", json={"note": "called the shop"})
        assert approved.status_code == 200, approved.text
        assert approved.json()["status"] == "paid"
        assert (approved.json()["decided_by"], approved.json()["note"]) == (
            "finance-test", "called the shop")
        again = client.post(f"/v1/payouts/{big}/reject", json={"note": "late"})
        assert (again.status_code, again.json()["code"]) == (409, "payout_error")

        balance = client.get("/v1/promoters/BIG/balances").json()
        assert (balance["paid"], balance["available"]) == ("20000.00", "0.00")
        csv = client.get("/v1/payouts/export.csv")
        assert csv.headers["content-type"].startswith("text/csv")
        assert csv.text.splitlines()[0] == ("payout_id,promoter_id,currency,amount,status,as_of,"
                                            "hold_reason,decided_by,payee")
        assert len(csv.text.splitlines()) == 3
        assert client.get("/v1/ledger/verify").json() == {"ok": True, "problems": []}
        ledger = client.get("/v1/promoters/BIG/ledger", params={"limit": 2}).json()
        assert len(ledger["lines"]) == 2 and ledger["next_after"] is not None
        rest = client.get("/v1/promoters/BIG/ledger",
                          params={"after": ledger["next_after"], "limit": 100}).json()
        assert rest["next_after"] is None
        assert {line["kind"] for line in ledger["lines"] + rest["lines"]} == {
            "paid", "released", "payout"}
        assert client.get("/v1/promoters/NOBODY/balances").status_code == 404
