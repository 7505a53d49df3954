"""The people side over HTTP: the mall submits an application, a reviewer approves it (the key's
name recorded), the promoter's own key makes an invite code, a customer registers through its
link, and the customer's order earns the promoter its commission; every answer masks personal
fields but the admin's export; refusals are 4xx with a stable code and change nothing."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.api.books_app import books_app, keyed_books

PHONE, NAME = "13812341234", "陈大文"


def _client(tmp_path: Path) -> tuple[TestClient, object]:
    books = keyed_books(f"sqlite:///{tmp_path / 'books.db'}")
    return TestClient(books_app(books, burst=10_000)), books


def test_apply_approve_invite_register_order_over_http(tmp_path: Path, caplog) -> None:
    client, books = _client(tmp_path)
    mall, admin = books.headers("mall"), books.headers("admin")
    with client, caplog.at_level(logging.DEBUG):
        submitted = client.post("/v1/applications", headers=mall, json={
            "user_id": "U1", "name": NAME, "phone": PHONE, "id_number": "11010519491231002X",
            "device_id": "d-1", "ip": "10.1.1.1"})
        assert submitted.status_code == 201, submitted.text
        body = submitted.json()
        assert (body["status"], body["phone"], body["name"]) == ("pending", "138****1234", "陈**")
        app_id = body["application_id"]
        approved = client.post(f"/v1/applications/{app_id}/approve", headers=admin,
                               json={"note": "ok"})
        assert approved.status_code == 200, approved.text
        assert approved.json()["decided_by"] == "key:admin-test"

        key = client.post("/v1/keys", headers=admin, json={"role": "promoter", "name": "U1"})
        mine = {"Authorization": f"Bearer {key.json()['key']}"}
        code = client.post("/v1/me/invite-codes", headers=mine)
        assert code.status_code == 201, code.text
        code_text = code.json()["code"]
        assert client.get("/v1/me/invite-codes", headers=mine).json()["codes"][0]["code"] == \
            code_text
        link = client.get(f"/v1/invite-codes/{code_text.lower()}/link", headers=mine,
                          params={"channel": "wechat", "content_id": "post-3"})
        assert link.json()["link"].endswith(f"/{code_text}?ch=wechat&cid=post-3")

        registered = client.post(f"/v1/invite-codes/{code_text}/registrations", headers=mall,
                                 json={"customer_id": "C1", "channel": "wechat",
                                       "content_id": "post-3", "device_id": "p-1"})
        assert registered.status_code == 200, registered.text
        assert registered.json()["bound_to"] == "U1"

        paid_at = (datetime.now(UTC) + timedelta(seconds=1)).isoformat()
        order = {"event_id": "o1", "type": "order_paid", "ts": paid_at, "order_id": "O1",
                 "customer_id": "C1", "merchant_id": "m1", "currency": "CNY",
                 "lines": [{"sku": "s", "category": "food", "amount": "500.00"}]}
        events = client.post("/v1/events", headers=mall, json={"events": [order]})
        assert events.json()["results"][0]["status"] == "applied"
        balances = client.get("/v1/promoters/U1/balances", headers=admin).json()
        assert balances["pending"] == "50.00"
        assert client.get("/v1/ledger/verify", headers=admin).json()["ok"] is True

        exported = client.get("/v1/people/U1/export", headers=admin)
        assert exported.json()["sections"]["applications"][0]["phone"] == PHONE
        listed = client.get("/v1/applications", headers=admin).text
        assert PHONE not in listed and NAME not in listed
    for secret in (PHONE, NAME, "11010519491231002X", "10.1.1.1"):
        assert secret not in caplog.text


def test_refusals_are_4xx_with_codes_and_change_nothing(tmp_path: Path) -> None:
    client, books = _client(tmp_path)
    mall, admin = books.headers("mall"), books.headers("admin")
    with client:
        first = {"user_id": "U1", "name": NAME, "phone": PHONE, "device_id": "farm"}
        assert client.post("/v1/applications", headers=mall, json=first).status_code == 201
        cases = [
            ({**first, "user_id": "U2", "phone": "12"}, 422, "invalid_personal_data"),
            ({**first, "user_id": "U2", "phone": "+8613812341234"}, 409, "application_refused"),
            ({**first, "user_id": "U2", "phone": "13900000001", "inviter_code": "ZZZZZZZZZZ"},
             404, "not_found"),
            ({**first, "user_id": "U2", "phone": "13900000001", "inviter_code": "ZZZZZZZZZO"},
             422, "invalid_personal_data"),
        ]
        for body, status, code in cases:
            answer = client.post("/v1/applications", headers=mall, json=body)
            assert (answer.status_code, answer.json()["code"]) == (status, code), answer.text
            assert PHONE not in answer.text
        for n in range(2, 4):  # the default limit is 3 a device a day
            client.post("/v1/applications", headers=mall, json={
                **first, "user_id": f"U{n}", "phone": f"1390000000{n}"})
        limited = client.post("/v1/applications", headers=mall, json={
            **first, "user_id": "U9", "phone": "13900000009"})
        assert (limited.status_code, limited.json()["code"]) == (429, "too_many_attempts")
        listed = client.get("/v1/applications", headers=admin).json()["applications"]
        assert [a["user_id"] for a in listed] == ["U1", "U2", "U3"]
        app_id = listed[0]["application_id"]
        no_reason = client.post(f"/v1/applications/{app_id}/reject", headers=admin,
                                json={"reason": ""})
        assert no_reason.status_code == 422
        rejected = client.post(f"/v1/applications/{app_id}/reject", headers=admin,
                               json={"reason": "blurry documents"})
        assert rejected.json()["reason"] == "blurry documents"
        twice = client.post(f"/v1/applications/{app_id}/approve", headers=admin, json={})
        assert (twice.status_code, twice.json()["code"]) == (409, "application_refused")
        assert client.post("/v1/applications", headers=books.headers("growth"),
                           json=first).status_code == 403


@pytest.mark.integration
def test_production_books_without_a_data_key_answer_503_naming_the_variable(postgres_url):
    books = keyed_books(postgres_url)
    with TestClient(books_app(books, burst=10_000)) as client:
        answer = client.post("/v1/applications", headers=books.headers("mall"), json={
            "user_id": "U1", "name": NAME, "phone": PHONE})
        assert (answer.status_code, answer.json()["code"]) == (503, "data_key_missing")
        assert "FENRUN_DATA_KEYS is not set" in answer.json()["detail"]
        # the routes without personal data are unaffected
        assert client.get("/v1/invite-codes/ZZZZZZZZZZ/link",
                          headers=books.headers("mall")).status_code == 404
