"""Proves `GET /promoters/{id}/value` serves a promoter's LTV/CAC from the stored snapshots, with
exact decimal amounts on the margin basis and GMV beside (basis "gmv" for a snapshot stored before
the margin basis), and refuses unknown promoters, missing snapshots and malformed input by
code."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from serving.config import ServingSettings
from tests.api.books_app import admin_client
from tests.promoter_value_store import build_value_store


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    settings = build_value_store(tmp_path_factory.mktemp("value"))
    with admin_client(settings) as client:
        yield client


def test_a_losing_promoter_from_the_newest_snapshot(client: TestClient) -> None:
    response = client.get("/v1/promoters/P-LOSS/value")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["as_of"].startswith("2026-04-01T00:00:00")
    assert (body["currency"], body["channel"], body["customers"]) == ("CNY", "qr_poster", 40)
    assert (body["segment_id"], body["segment_name"]) == (2, "low-GMV novices")
    assert body["basis"] == "margin"
    assert (body["gmv_realised"], body["gmv_predicted"], body["gmv_ltv"], body["cac"]) == (
        "1200.00", "800.00", "2000.00", "4000.00")  # 40 x (30.00 + 20.00), 40 x 100.00
    # 40 x (30.00 x 25 % - 1.00 later commission), 40 x 20.00 x 1/5
    assert (body["contribution_realised"], body["contribution_predicted"],
            body["contribution_ltv"]) == ("260.00", "160.00", "420.00")
    assert body["ltv_cac"] == pytest.approx(0.105) and body["gmv_ltv_cac"] == pytest.approx(0.5)
    low, high = body["ltv_cac_band"]
    assert low <= body["ltv_cac_shrunk"] <= high < 1
    assert body["confidently_losing"] is True


def test_three_times_its_cost_on_gmv_is_losing_on_contribution(client: TestClient) -> None:
    body = client.get("/v1/promoters/P-OK/value").json()
    assert body["gmv_ltv_cac"] == pytest.approx(3.0, abs=1e-3)
    assert body["ltv_cac"] == pytest.approx(0.69)
    assert body["contribution_ltv"] == "1725.00"  # 25 x 69.00
    assert body["confidently_losing"] is True


def test_an_older_snapshot_by_its_instant(client: TestClient) -> None:
    body = client.get("/v1/promoters/P-STAR/value",
                      params={"as_of": "2026-03-01T08:00:00+08:00"}).json()
    assert body["as_of"].startswith("2026-03-01T00:00:00")
    assert body["segment_id"] is None and body["confidently_losing"] is False
    # stored before the margin basis: GMV only, said so, and no contribution invented
    assert body["basis"] == "gmv" and body["gmv_ltv"] == "30000.00"
    assert body["contribution_ltv"] is None and body["contribution_realised"] is None
    assert body["ltv_cac"] == body["gmv_ltv_cac"] == pytest.approx(10.0, abs=1e-3)


@pytest.mark.parametrize(("path", "params", "status", "code"), [
    ("/v1/promoters/P-NOBODY/value", {}, 404, "unknown_promoter"),
    ("/v1/promoters/P-LOSS/value", {"as_of": "2026-02-01T00:00:00Z"}, 404, "no_snapshot"),
    ("/v1/promoters/P-LOSS/value", {"as_of": "2026-04-01T00:00:00"}, 422, "invalid_request"),
    ("/v1/promoters/" + "x" * 129 + "/value", {}, 422, "invalid_request"),
])
def test_refusals_carry_a_stable_code(client: TestClient, path: str, params: dict[str, str],
                                      status: int, code: str) -> None:
    response = client.get(path, params=params)
    assert response.status_code == status, response.text
    assert response.json()["code"] == code


def test_a_naive_instant_names_the_field(client: TestClient) -> None:
    detail = client.get("/v1/promoters/P-LOSS/value",
                        params={"as_of": "2026-04-01T00:00:00"}).json()["detail"]
    assert detail.startswith("query.as_of: ")


def test_no_snapshot_at_all_is_404(tmp_path: Path) -> None:
    settings = ServingSettings(feature_store_dir=str(tmp_path),
                               mlflow_tracking_uri=f"sqlite:///{tmp_path}/mlflow.db")
    with admin_client(settings) as client:
        response = client.get("/v1/promoters/P-LOSS/value")
    assert response.status_code == 404
    assert response.json()["code"] == "no_snapshot"
    assert "fenrun ltv promoters" in response.json()["detail"]
