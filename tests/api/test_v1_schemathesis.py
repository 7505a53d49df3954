"""Schemathesis against the app's own OpenAPI document: generated requests for every operation,
each with a key of a role the operation names, over seeded books (half the promoter routes ask for
a promoter who exists): no 5xx, no status or body the document does not describe. Bounded: a few
examples per operation, no deadline per example."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from schemathesis import checks as st_checks
from schemathesis.specs.openapi import checks as openapi_checks

from settlement.personal_data import generate_key
from tests.api.books_app import books_app, keyed_books

ROOT = Path(tempfile.mkdtemp(prefix="fenrun-schemathesis-"))
BOOKS = keyed_books(f"sqlite:///{ROOT / 'books.db'}")
APP = books_app(BOOKS, burst=100_000)
SEEDED = "P1"
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)
CHECKS = [st_checks.not_a_server_error, openapi_checks.status_code_conformance,
          openapi_checks.content_type_conformance, openapi_checks.response_schema_conformance]


@pytest.fixture(scope="module", autouse=True)
def _running_app() -> Iterator[None]:
    env = pytest.MonkeyPatch()  # payees are encrypted, bank files written: keep both in scratch
    env.setenv("FENRUN_DATA_KEYS", generate_key())
    env.setenv("FENRUN_BANK_FILE_DIR", str(ROOT / "bank"))
    with TestClient(APP) as client:  # the lifespan opens the books for every generated call
        seed = [{"event_id": "j1", "type": "promoter_joined", "ts": "2026-03-01T00:00:00Z",
                 "promoter_id": SEEDED},
                {"event_id": "t1", "type": "touch", "ts": "2026-03-01T01:00:00Z",
                 "customer_id": "C1", "promoter_id": SEEDED, "kind": "click"},
                {"event_id": "o1", "type": "order_paid", "ts": "2026-03-01T02:00:00Z",
                 "order_id": "O1", "customer_id": "C1", "merchant_id": "m1", "currency": "CNY",
                 "lines": [{"sku": "s", "category": "food", "amount": "100.00"}]}]
        client.post("/v1/events", json={"events": seed}, headers=BOOKS.headers("mall"))
        yield
    env.undo()


@pytest.mark.slow
@schema.parametrize()
@settings(max_examples=25, deadline=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
def test_the_app_keeps_to_its_document(case) -> None:
    roles = case.operation.definition.raw.get("x-roles")
    headers = BOOKS.headers(roles[0]) if roles else {}
    if "promoter_id" in (case.path_parameters or {}) and len(str(case.path_parameters)) % 2:
        case.path_parameters["promoter_id"] = SEEDED
    case.call_and_validate(headers=headers, checks=CHECKS)
