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
from tests.api.books_app import REVOKED, books_app, keyed_books
from tests.conftest import DEFAULT_PLAN

PUBLIC = {("GET", "/healthz"), ("GET", "/readyz"), ("GET", "/metrics")}
JOIN = {"event_id": "j1", "type": "promoter_joined", "ts": "2026-03-01T00:00:00Z",
        "promoter_id": "P1"}
# (method, route) -> (path called, JSON body, the statuses an allowed role may get)
OK = {200}
NO_SNAPSHOT = {404}  # the value and risk routes read snapshots these books do not have
EXAMPLES: dict[tuple[str, str], tuple[str, Any, set[int]]] = {
    ("POST", "/v1/events"): ("/v1/events", {"events": [JOIN]}, OK),
    ("GET", "/v1/promoters/{promoter_id}/balances"): ("/v1/promoters/P1/balances", None, OK),
    ("GET", "/v1/promoters/{promoter_id}/ledger"): ("/v1/promoters/P1/ledger", None, OK),
    ("GET", "/v1/merchants/balances"): ("/v1/merchants/balances", None, OK),
    ("GET", "/v1/platform/balance"): ("/v1/platform/balance", None, OK),
    ("POST", "/v1/payouts/run"): ("/v1/payouts/run", {"as_of": "2026-03-20T00:00:00Z"}, OK),
    ("GET", "/v1/payouts"): ("/v1/payouts", None, OK),
    ("GET", "/v1/payouts/export.csv"): ("/v1/payouts/export.csv", None, OK),
    ("POST", "/v1/payouts/{payout_id}/approve"): ("/v1/payouts/999/approve", {}, {404}),
    ("POST", "/v1/payouts/{payout_id}/reject"): ("/v1/payouts/999/reject", {}, {404}),
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
    ("GET", "/v1/orders/{order_id}/explanation"): ("/v1/orders/o1/explanation", None, {404}),
}


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory):
    root: Path = tmp_path_factory.mktemp("matrix")
    books = keyed_books(f"sqlite:///{root / 'books.db'}", plan=DEFAULT_PLAN)
    engine = create_db_engine(books.url)
    with engine.begin() as conn:
        spare = create_key(conn, "mall", "spare", created_by="test")[0].key_id
    engine.dispose()
    app = books_app(books, burst=10_000)
    with TestClient(app) as client:
        client.post("/v1/events", json={"events": [JOIN]}, headers=books.headers("mall"))
        yield client, books, spare, app


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
