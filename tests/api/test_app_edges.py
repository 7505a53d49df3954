"""The API's edges: it accepts every promoter id the books accept, tells "no acquired customers"
from "unknown", serves the newest snapshot at or before `as_of`, answers every error (unknown
routes included) with the `{code, detail}` envelope, never shows a filesystem path, and answers
HEAD on GET routes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from features.profiles.store import CHANNEL_VALUE_TABLE, PROMOTER_VALUE_TABLE, write_snapshot
from serving.config import ServingSettings
from settlement.events import MAX_ID_LENGTH
from tests.api.books_app import admin_client
from tests.promoter_value_store import AS_OF, EARLIER, build_value_store, value_customers
from training.ltv.promoter_value import promoter_value, snapshot_frames

CHINESE = "推广员_李四"
SLASHED = "shop/42"
QUIET = "P-QUIET"  # joined and profiled, but acquired nobody


def _store(root: Path) -> ServingSettings:
    settings = build_value_store(root)
    customers = value_customers()
    extra = customers[customers["promoter_id"] == "P-NEW"].assign(
        customer_id=lambda f: f["customer_id"] + "-x")
    for promoter in (CHINESE, SLASHED):
        customers = pd.concat([customers, extra.assign(
            promoter_id=promoter, customer_id=extra["customer_id"] + promoter)])
    value = promoter_value(customers, replicates=50, seed=1)
    promoters, channels = snapshot_frames(value, AS_OF, 90, "CNY", None)
    write_snapshot(promoters, root, PROMOTER_VALUE_TABLE)
    write_snapshot(channels, root, CHANNEL_VALUE_TABLE)
    # The population: every promoter who had joined by then, as `fenrun features build` stores it.
    write_snapshot(pd.DataFrame({"promoter_id": ["P-LOSS", QUIET, CHINESE],
                                 "as_of": [EARLIER] * 3}), root)
    return settings


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    with admin_client(_store(tmp_path_factory.mktemp("value"))) as client:
        yield client


@pytest.mark.parametrize("promoter", [CHINESE, SLASHED])
def test_ids_the_books_accept_are_served(client: TestClient, promoter: str) -> None:
    response = client.get(f"/v1/promoters/{quote(promoter, safe='')}/value")
    assert response.status_code == 200, response.text
    assert response.json()["promoter_id"] == promoter


def test_an_id_longer_than_the_books_allow_is_invalid(client: TestClient) -> None:
    response = client.get(f"/v1/promoters/{'x' * (MAX_ID_LENGTH + 1)}/value")
    assert response.status_code == 422
    assert response.json()["code"] == "invalid_request"


def test_a_known_promoter_without_customers_is_told_apart_from_an_unknown_one(
        client: TestClient) -> None:
    quiet = client.get(f"/v1/promoters/{QUIET}/value")
    assert quiet.status_code == 404
    assert quiet.json()["code"] == "no_acquired_customers"
    assert "no acquired customers" in quiet.json()["detail"]
    nobody = client.get("/v1/promoters/P-NOBODY/value")
    assert nobody.status_code == 404
    assert nobody.json()["code"] == "unknown_promoter"


def test_as_of_between_snapshots_uses_the_newest_before_it(client: TestClient) -> None:
    between = client.get("/v1/promoters/P-STAR/value", params={"as_of": "2026-03-15T00:00:00Z"})
    assert between.status_code == 200, between.text
    assert between.json()["as_of"].startswith("2026-03-01T00:00:00")
    after = client.get("/v1/promoters/P-STAR/value", params={"as_of": "2027-01-01T00:00:00Z"})
    assert after.json()["as_of"].startswith("2026-04-01T00:00:00")
    before = client.get("/v1/promoters/P-STAR/value", params={"as_of": "2026-02-01T00:00:00Z"})
    assert before.status_code == 404 and before.json()["code"] == "no_snapshot"
    assert "at or before 2026-02-01" in before.json()["detail"]


@pytest.mark.parametrize(("method", "path", "status", "code"), [
    ("GET", "/no/such/route", 404, "not_found"),
    ("POST", "/health", 405, "method_not_allowed"),
])
def test_unknown_routes_and_methods_get_the_envelope(client: TestClient, method: str, path: str,
                                                     status: int, code: str) -> None:
    response = client.request(method, path)
    assert response.status_code == status
    assert response.json()["code"] == code and response.json()["detail"]


def test_head_is_answered_on_get_routes(client: TestClient) -> None:
    assert client.head("/health").status_code == 200
    assert client.head("/v1/promoters/P-LOSS/value").status_code == 200


def test_no_error_shows_a_filesystem_path(tmp_path: Path) -> None:
    settings = ServingSettings(feature_store_dir=str(tmp_path / "empty"),
                               mlflow_tracking_uri=f"sqlite:///{tmp_path}/mlflow.db")
    with admin_client(settings) as client:
        for path in ("/v1/promoters/P-LOSS/value", "/v1/promoters/P-LOSS/risk"):
            response = client.get(path)
            assert response.status_code == 404
            assert response.json()["code"] == "no_snapshot"
            assert str(tmp_path) not in response.text and "/empty" not in response.text
