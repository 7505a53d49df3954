"""GET /v1/orders/{order_id}/explanation: the read model's explanation of an order over HTTP, the
same numbers the books hold and the words `fenrun explain` prints; 404 for an unknown order."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.api.books_app import books_app, keyed_books
from tests.settlement.test_explain import PLAN

EVENTS = [
    {"event_id": "j1", "type": "promoter_joined", "ts": "2026-03-01T08:00:00Z",
     "promoter_id": "B", "grade": "senior"},
    {"event_id": "j2", "type": "promoter_joined", "ts": "2026-03-01T09:00:00Z",
     "promoter_id": "C", "parent_id": "B"},
    {"event_id": "j3", "type": "promoter_joined", "ts": "2026-03-01T09:30:00Z",
     "promoter_id": "G", "agent_region": "east"},
    {"event_id": "t1", "type": "touch", "ts": "2026-03-02T10:00:00Z", "customer_id": "x",
     "promoter_id": "C"},
    {"event_id": "p1", "type": "order_paid", "ts": "2026-03-02T10:05:00Z", "order_id": "o1",
     "customer_id": "x", "merchant_id": "m1", "currency": "CNY", "payment_channel": "card",
     "region": "east",
     "lines": [{"sku": "SKU-1", "category": "food", "amount": "40.00", "quantity": 2},
               {"sku": "tea", "category": "food", "amount": "100.00"}]},
]


def test_the_explanation_route_returns_every_step_of_the_worked_example(tmp_path):
    books = keyed_books(f"sqlite:///{tmp_path / 'books.db'}", plan=PLAN)
    with TestClient(books_app(books)) as client:
        posted = client.post("/v1/events", json={"events": EVENTS}, headers=books.headers("mall"))
        assert posted.status_code == 200, posted.text
        response = client.get("/v1/orders/o1/explanation", headers=books.headers("finance"))
        assert response.status_code == 200, response.text
        body = response.json()
        missing = client.get("/v1/orders/nope/explanation", headers=books.headers("finance"))
    # The worked example of tests/settlement/test_explain.py: the per_order cap scales by 50/57.
    assert {t["promoter_id"]: t["amount"] for t in body["totals"]} == {
        "B": "8.77", "C": "20.00", "G": "1.22"}
    assert {t["cap_factor"] for t in body["totals"]} == {"50/57"}
    assert (body["platform"], body["payment_provider"], body["payment_fee"], body["merchant"]) == (
        "7.00", "card", "1.40", "101.61")
    tea = next(p for p in body["parts"] if p["promoter_id"] == "C" and p["sku"] == "tea")
    assert tea["rule"] == "base" and tea["rate"] == "1/10"
    assert tea["campaigns"] == [{"name": "spring", "bonus": "1/100"}]
    assert tea["ladder"] == [{"from_gmv": "50.00", "bonus": "1/50", "inside": "9000/1"}]
    assert "merchant keeps the exact remainder: 101.61" in body["words"]
    assert missing.status_code == 404 and missing.json()["code"] == "not_found"
