"""Every route of the app, called with every role's key, no key and a revoked key: 401 without a
valid key, 403 for a role the route does not name, and an answer (2xx, or a 404 for data that
does not exist) for the roles it names. The routes come from the app itself, so a new route
without roles, or without an example here, fails this test."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import api_routes
from settlement.api_keys import ROLES, create_key
from settlement.db import create_db_engine
from settlement.personal_data import generate_key
from tests.api.books_app import REVOKED, books_app, keyed_books
from tests.conftest import DEFAULT_PLAN

PUBLIC = {("GET", "/healthz"), ("GET", "/readyz"), ("GET", "/metrics")}
JOIN = {"event_id": "j1", "type": "promoter_joined", "ts": "2026-03-01T00:00:00Z",
        "promoter_id": "P1"}
PROMOTER_KEY_JOIN = {**JOIN, "event_id": "j2", "promoter_id": "promoter-test"}  # its key's name
# (method, route) -> (path called, JSON body, the statuses an allowed role may get)
OK = {200}
NO_SNAPSHOT = {404}  # the value and risk routes read snapshots these books do not have
APPLICATION = {"user_id": "U1", "name": "Ada", "phone": "13812341234"}
NO_APP, NO_CODE = "A0000000000000000", "ZZZZZZZZZZ"
EXAMPLES: dict[tuple[str, str], tuple[str, Any, set[int]]] = {
    ("POST", "/v1/events"): ("/v1/events", {"events": [JOIN]}, OK),
    ("GET", "/v1/promoters/{promoter_id}/balances"): ("/v1/promoters/P1/balances", None, OK),
    ("GET", "/v1/promoters/{promoter_id}/ledger"): ("/v1/promoters/P1/ledger", None, OK),
    ("GET", "/v1/merchants/balances"): ("/v1/merchants/balances", None, OK),
    ("GET", "/v1/platform/balance"): ("/v1/platform/balance", None, OK),
    ("POST", "/v1/payouts/run"): ("/v1/payouts/run", {"as_of": "2026-03-20T00:00:00Z"}, OK),
    ("GET", "/v1/payouts"): ("/v1/payouts", None, OK),
    ("GET", "/v1/payouts/export.csv"): ("/v1/payouts/export.csv", None, OK),
    ("POST", "/v1/payouts/{payout_id}/approve"): ("/v1/payouts/999/approve", {"note": "why"},
                                                  {404}),
    ("POST", "/v1/payouts/{payout_id}/reject"): ("/v1/payouts/999/reject", {"note": "why"},
                                                 {404}),
    ("GET", "/v1/ledger/verify"): ("/v1/ledger/verify", None, OK),
    ("GET", "/v1/plans"): ("/v1/plans", None, OK),
    ("GET", "/v1/plans/{version_id}"): ("/v1/plans/2026-01-01T00:00:00Z", None, OK),
    ("POST", "/v1/plans"): ("/v1/plans", {"yaml": DEFAULT_PLAN}, OK),
    ("GET", "/v1/keys"): ("/v1/keys", None, OK),
    ("POST", "/v1/keys"): ("/v1/keys", {"role": "mall", "name": "shop"}, {201}),
    ("POST", "/v1/keys/{key_id}/revoke"): ("/v1/keys/{spare}/revoke", None, OK),
    ("GET", "/v1/models"): ("/v1/models", None, OK),
    ("GET", "/v1/models/{name}/drift"): ("/v1/models/segments/drift", None, {404}),
    ("GET", "/v1/segments"): ("/v1/segments", None, {404}),  # no champion in these books' store
    ("GET", "/v1/promoters/{promoter_id}/value"): ("/v1/promoters/P1/value", None, NO_SNAPSHOT),
    ("GET", "/v1/promoters/{promoter_id}/risk"): ("/v1/promoters/P1/risk", None, NO_SNAPSHOT),
    # no suggestion is stored in these books: the mall is told so (404 no_suggestion)
    ("GET", "/v1/promoters/{promoter_id}/recommended-rate"): (
        "/v1/promoters/P1/recommended-rate", None, {404}),
    ("GET", "/v1/rates/suggestions"): ("/v1/rates/suggestions", None, OK),
    ("GET", "/v1/rates/suggestions/{suggestion_id}"): ("/v1/rates/suggestions/rs_x", None, {404}),
    ("POST", "/v1/rates/what-if"): ("/v1/rates/what-if", {
        "from": "2026-02-01T00:00:00Z", "to": "2026-03-02T00:00:00Z", "rates": {"P1": "0.12"}},
        OK),
    ("POST", "/v1/rates/suggestions/{suggestion_id}/approve"): (
        "/v1/rates/suggestions/rs_x/approve", {}, {404}),
    ("POST", "/v1/rates/suggestions/{suggestion_id}/reject"): (
        "/v1/rates/suggestions/rs_x/reject", {"note": "too soon"}, {404}),
    ("GET", "/v1/rates/experiment/report"): ("/v1/rates/experiment/report", None, {404}),
    # The people side: a second caller's identical application is refused (409).
    ("POST", "/v1/applications"): ("/v1/applications", APPLICATION, {201, 409}),
    ("GET", "/v1/applications"): ("/v1/applications", None, OK),
    ("GET", "/v1/applications/{application_id}"): (f"/v1/applications/{NO_APP}", None, {404}),
    ("POST", "/v1/applications/{application_id}/approve"): (
        f"/v1/applications/{NO_APP}/approve", {}, {404}),
    ("POST", "/v1/applications/{application_id}/reject"): (
        f"/v1/applications/{NO_APP}/reject", {"reason": "no"}, {404}),
    ("POST", "/v1/promoters/{promoter_id}/invite-codes"): (
        "/v1/promoters/P1/invite-codes", None, {201}),
    ("GET", "/v1/promoters/{promoter_id}/invite-codes"): (
        "/v1/promoters/P1/invite-codes", None, OK),
    # A promoter key's name is its promoter id: the admin key's name is no promoter (404).
    ("POST", "/v1/me/invite-codes"): ("/v1/me/invite-codes", None, {201, 404}),
    ("GET", "/v1/me/invite-codes"): ("/v1/me/invite-codes", None, OK),
    ("POST", "/v1/invite-codes/{code}/revoke"): (f"/v1/invite-codes/{NO_CODE}/revoke", {}, {404}),
    ("GET", "/v1/invite-codes/{code}/link"): (f"/v1/invite-codes/{NO_CODE}/link", None, {404}),
    ("POST", "/v1/invite-codes/{code}/visits"): (
        f"/v1/invite-codes/{NO_CODE}/visits", {"customer_id": "C9", "visit_id": "v9"}, {404}),
    ("POST", "/v1/invite-codes/{code}/registrations"): (
        f"/v1/invite-codes/{NO_CODE}/registrations", {"customer_id": "C9"}, {404}),
    ("GET", "/v1/people/{person_id}/export"): ("/v1/people/P1/export", None, OK),
    ("POST", "/v1/people/{person_id}/erase"): ("/v1/people/nobody/erase", {}, {404}),
    ("POST", "/v1/promoters/{promoter_id}/payees"): ("/v1/promoters/P1/payees", {
        "method": "wechat", "holder_name": "Ada", "account": "wx_ada"}, {201}),
    ("GET", "/v1/promoters/{promoter_id}/payees"): ("/v1/promoters/P1/payees", None, OK),
    ("POST", "/v1/withdrawals"): ("/v1/withdrawals", {  # P1 has nothing available
        "promoter_id": "P1", "amount": "10.00", "request_key": "k"}, {422}),
    ("GET", "/v1/withdrawals"): ("/v1/withdrawals", None, OK),
    ("POST", "/v1/withdrawals/{withdrawal_id}/approve"): (
        "/v1/withdrawals/999/approve", {"note": "why"}, {404}),
    ("POST", "/v1/withdrawals/{withdrawal_id}/reject"): (
        "/v1/withdrawals/999/reject", {"note": "why"}, {404}),
    ("POST", "/v1/bank/batches"): ("/v1/bank/batches", None, OK),
    ("GET", "/v1/bank/batches"): ("/v1/bank/batches", None, OK),
    ("GET", "/v1/bank/batches/{batch_id}/file"): ("/v1/bank/batches/B-NONE/file", None, {404}),
    ("POST", "/v1/bank/results"): ("/v1/bank/results", "batch_id,line_id,status\nB,1,paid\n",
                                   {422}),  # no such batch
    ("POST", "/v1/statements/build"): ("/v1/statements/build", {"period": "2026-03"}, OK),
    ("GET", "/v1/statements"): ("/v1/statements", None, OK),
    ("GET", "/v1/statements/{period}/export.csv"): ("/v1/statements/2026-03/export.csv", None,
                                                    OK),
    ("GET", "/v1/statements/{period}/export.xlsx"): ("/v1/statements/2026-03/export.xlsx", None,
                                                     OK),
    ("GET", "/v1/promoters/{promoter_id}/statements/{period}"): (
        "/v1/promoters/P1/statements/2026-03", None, {200, 404}),  # 404 until built
    ("GET", "/v1/risk/cases"): ("/v1/risk/cases", None, OK),
    ("GET", "/v1/risk/cases/{case_id}"): ("/v1/risk/cases/999", None, {404}),
    ("POST", "/v1/risk/cases/{case_id}/investigate"): ("/v1/risk/cases/999/investigate", {},
                                                       {404}),
    ("POST", "/v1/risk/cases/{case_id}/confirm"): ("/v1/risk/cases/999/confirm", {}, {404}),
    ("POST", "/v1/risk/cases/{case_id}/dismiss"): ("/v1/risk/cases/999/dismiss",
                                                   {"note": "not fraud"}, {404}),
    # A promoter's own money: the admin key's name is no promoter (404), the promoter key's is.
    ("GET", "/v1/me/balances"): ("/v1/me/balances", None, {200, 404}),
    ("GET", "/v1/me/statements/{period}"): ("/v1/me/statements/2026-03", None, {200, 404}),
    ("POST", "/v1/me/withdrawals"): ("/v1/me/withdrawals", {  # no payee, nothing available
        "amount": "10.00", "request_key": "k-me"}, {422}),
    ("GET", "/v1/me/withdrawals"): ("/v1/me/withdrawals", None, OK),
    ("GET", "/v1/orders/{order_id}/explanation"): ("/v1/orders/o1/explanation", None, {404}),
}


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory):
    root: Path = tmp_path_factory.mktemp("matrix")
    env = pytest.MonkeyPatch()  # the payee routes encrypt; bank files stay in the scratch dir
    env.setenv("FENRUN_DATA_KEYS", generate_key())
    env.setenv("FENRUN_BANK_FILE_DIR", str(root / "bank"))
    books = keyed_books(f"sqlite:///{root / 'books.db'}", plan=DEFAULT_PLAN)
    engine = create_db_engine(books.url)
    with engine.begin() as conn:
        spare = create_key(conn, "mall", "spare", created_by="test")[0].key_id
    engine.dispose()
    app = books_app(books, burst=10_000)
    with TestClient(app) as client:
        client.post("/v1/events", json={"events": [JOIN, PROMOTER_KEY_JOIN]},
                    headers=books.headers("mall"))
        yield client, books, spare, app
    env.undo()


def test_every_route_names_its_roles_or_is_a_public_probe(setup):
    *_, app = setup
    routes = api_routes(app)
    assert {(m, p) for m, p, roles in routes if roles is None} == PUBLIC
    assert {(m, p) for m, p, roles in routes if roles is not None} == set(EXAMPLES)


@pytest.mark.parametrize("caller", [*ROLES, REVOKED, None])
def test_the_role_matrix(setup, caller):
    client, books, spare, app = setup
    for method, route, roles in api_routes(app):
        if roles is None:
            assert client.request(method, route).status_code in (200, 503)
            continue
        path, body, allowed = EXAMPLES[(method, route)]
        headers = books.headers(caller) if caller else {}
        response = client.request(method, path.format(spare=spare), json=body, headers=headers)
        where = f"{method} {route} as {caller}: {response.status_code} {response.text[:200]}"
        if caller in (None, REVOKED):
            assert response.status_code == 401, where
            assert response.json()["code"] == "unauthorized", where
        elif caller in roles:
            assert response.status_code in allowed, where
        else:
            assert response.status_code == 403, where
            assert response.json()["code"] == "forbidden", where


def test_admin_may_call_every_route(setup):
    *_, app = setup
    assert all("admin" in roles for _, _, roles in api_routes(app) if roles is not None)


def test_a_key_of_the_wrong_shape_or_secret_is_401(setup):
    client, books, *_ = setup
    good = books.keys["finance"]
    for text in ("nonsense", good[:-1] + ("A" if good[-1] != "A" else "B"), f"fr_{'0' * 16}_x" * 2):
        response = client.get("/v1/payouts", headers={"Authorization": f"Bearer {text}"})
        assert response.status_code == 401 and response.json()["code"] == "unauthorized"
    assert client.get("/v1/payouts", headers={"Authorization": good}).status_code == 401
