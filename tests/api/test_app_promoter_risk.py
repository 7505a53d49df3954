"""Proves `GET /promoters/{id}/risk` answers from the stored flag list: flagged or not, why, and the
unpaid commission in exact decimals; an unscored promoter or a missing list is a coded 404."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from serving.config import ServingSettings
from tests.api.books_app import admin_client
from tests.risk_store import write_flags


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    with admin_client(write_flags(tmp_path_factory.mktemp("flags"))) as client:
        yield client


def test_a_flagged_promoter_with_money_to_hold(client: TestClient) -> None:
    response = client.get("/v1/promoters/R4/risk")
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["flagged"], body["rank"], body["model_version"]) == (True, 4, "3")
    assert body["reasons"] == ["max_orders_1h_90d 34 (median 0, +16.1 sd)"]
    assert (body["unpaid"], body["pending"], body["available"]) == ("1200.00", "1000.00",
                                                                    "200.00")
    assert body["as_of"].startswith("2026-04-01T00:00:00")


def test_a_claw_back_owed_shows_as_negative_unpaid(client: TestClient) -> None:
    body = client.get("/v1/promoters/R3/risk").json()
    assert (body["unpaid"], body["clawback_owed"]) == ("-50.00", "50.00")


def test_an_unflagged_promoter_has_no_reasons(client: TestClient) -> None:
    body = client.get("/v1/promoters/R5/risk").json()
    assert body["flagged"] is False and body["reasons"] == []


def test_unknown_promoter_and_missing_list_are_404_by_code(client: TestClient,
                                                           tmp_path: Path) -> None:
    response = client.get("/v1/promoters/NOBODY/risk")
    assert response.status_code == 404 and response.json()["code"] == "unknown_promoter"
    assert "anomaly flag list" in response.json()["detail"]
    empty = ServingSettings(feature_store_dir=str(tmp_path),
                            mlflow_tracking_uri=f"sqlite:///{tmp_path}/mlflow.db")
    with admin_client(empty) as bare:
        missing = bare.get("/v1/promoters/R1/risk")
    assert missing.status_code == 404 and missing.json()["code"] == "no_snapshot"
    assert "fenrun risk flag" in missing.json()["detail"]
