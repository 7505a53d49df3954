"""Proves the HTTP API reports real drift checks (drifted true/false, columns) and 404s by code."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from serving.config import ServingSettings
from tests.api.books_app import admin_client
from tests.drift_store import THRESHOLD, DriftStore, build_drift_store


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> DriftStore:
    return build_drift_store(tmp_path_factory.mktemp("mlflow"))


@pytest.fixture(scope="module")
def client(store: DriftStore) -> Iterator[TestClient]:
    with admin_client(store.serving) as client:  # runs the lifespan
        yield client


def test_health_needs_no_store(tmp_path: Path) -> None:
    settings = ServingSettings(mlflow_tracking_uri=f"sqlite:///{tmp_path}/none/mlflow.db")
    with admin_client(settings) as client:
        assert client.get("/health").json() == {"status": "ok"}
        assert client.get("/v1/models").json() == {"models": []}


@pytest.mark.integration
def test_drifted_model_names_its_columns(store: DriftStore, client: TestClient) -> None:
    response = client.get("/v1/models/segments/drift")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["drifted"] is True and body["alerts"] == ["refund_rate"]
    assert body["model"] == "fenrun-segments" and body["run_id"] == store.shifted_run_id
    assert body["threshold"] == THRESHOLD and body["champion_version"] == "1"
    assert list(body["scores"]) == ["refund_rate", "aov_90d", "gmv_90d"]
    assert body["scores"]["refund_rate"] > THRESHOLD > body["scores"]["gmv_90d"]
    assert body["as_of"].startswith("2026-03-01T00:00:00")
    assert client.get("/v1/models/fenrun-segments/drift").json() == body


@pytest.mark.integration
def test_calm_model_is_not_drifted(store: DriftStore, client: TestClient) -> None:
    body = client.get("/v1/models/steady/drift").json()
    assert body["drifted"] is False and body["alerts"] == []
    assert body["run_id"] == store.steady_run_id


@pytest.mark.integration
@pytest.mark.parametrize(("name", "code"), [("nope", "unknown_model"),
                                            ("unchecked", "no_drift_check")])
def test_404_with_a_stable_code(client: TestClient, name: str, code: str) -> None:
    response = client.get(f"/v1/models/{name}/drift")
    assert response.status_code == 404
    assert response.json()["code"] == code and f"fenrun-{name}" in response.json()["detail"]


@pytest.mark.integration
def test_models_lists_champions_and_drift_status(client: TestClient) -> None:
    models = {m["name"]: m for m in client.get("/v1/models").json()["models"]}
    assert {n: (m["champion_version"], m["drift_status"]) for n, m in models.items()} == {
        "fenrun-segments": ("1", "drifted"), "fenrun-steady": ("1", "no_drift"),
        "fenrun-unchecked": ("1", "no_check")}
    assert models["fenrun-segments"]["drift"]["alerts"] == ["refund_rate"]
    assert models["fenrun-unchecked"]["drift"] is None


@pytest.mark.parametrize("name", ["bad name!", "x" * 101, "-leading-dash"])
def test_a_malformed_model_name_is_422_naming_the_field(client: TestClient, name: str) -> None:
    response = client.get(f"/v1/models/{name}/drift")
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "invalid_request"
    assert body["detail"].startswith("path.name: "), body


def test_the_openapi_document_shows_the_422_body_actually_sent(client: TestClient) -> None:
    responses = client.get("/openapi.json").json()["paths"]["/v1/models/{name}/drift"]["get"][
        "responses"]
    assert responses["422"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ErrorOut"}
    assert set(responses) == {"200", "401", "403", "404", "422", "429", "503"}


@pytest.mark.integration
def test_segments_are_the_champions_largest_first(client: TestClient) -> None:
    body = client.get("/v1/segments").json()
    assert body["champion_version"] == "1"
    shares = [s["share"] for s in body["segments"]]
    assert len(shares) == 3 and shares == sorted(shares, reverse=True)
    assert abs(sum(shares) - 1.0) < 1e-9
    assert all(s["name"] and s["centroid"] for s in body["segments"])


def test_segments_without_a_champion_name_the_command(tmp_path: Path) -> None:
    settings = ServingSettings(mlflow_tracking_uri=f"sqlite:///{tmp_path}/none/mlflow.db")
    with admin_client(settings) as client:
        response = client.get("/v1/segments")
    assert response.status_code == 404
    assert response.json()["code"] == "no_champion"
    assert "fenrun train segments" in response.json()["detail"]
