"""Proves the Model health page shows a red banner naming drifted critical features, else none."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from tests.dashboards.apptest import APP, run_script
from tests.drift_store import DriftStore, build_drift_store

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def drifted(tmp_path_factory: pytest.TempPathFactory) -> DriftStore:
    return build_drift_store(tmp_path_factory.mktemp("drifted"), drifted=True)


@pytest.fixture(scope="module")
def calm(tmp_path_factory: pytest.TempPathFactory) -> DriftStore:
    return build_drift_store(tmp_path_factory.mktemp("calm"), drifted=False)


def _run_page(store: DriftStore, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    """Run the app (its default page) against `store`."""
    return run_script(APP, monkeypatch, {
        "FENRUN_MLFLOW_TRACKING_URI": store.serving.mlflow_tracking_uri,
        "FENRUN_MLFLOW_EXPERIMENT": store.serving.mlflow_experiment})


def test_banner_names_the_drifted_features(drifted: DriftStore,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    app = _run_page(drifted, monkeypatch)
    assert len(app.error) == 1
    banner = app.error[0].value
    assert "fenrun-segments" in banner and "refund_rate" in banner
    assert "fenrun-steady" not in banner and "gmv_90d" not in banner
    table = app.dataframe[0].value.set_index("model")
    assert table.loc["fenrun-segments", "drift"] == "🔴 drifted"
    assert table.loc["fenrun-steady", "drift"] == "🟢 no drift"
    assert table.loc["fenrun-unchecked", "drift"] == "⚪ no drift check yet"
    assert (table["champion"] == "v1").all()
    scores = app.dataframe[1].value  # fenrun-segments' scores, highest first
    assert list(scores["column"]) == ["refund_rate", "aov_90d", "gmv_90d"]
    assert list(scores["vs threshold 0.1"]) == ["critical, alerted", "below threshold",
                                                "below threshold"]


def test_no_banner_when_every_check_is_calm(calm: DriftStore,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    app = _run_page(calm, monkeypatch)
    assert len(app.error) == 0
    table = app.dataframe[0].value.set_index("model")
    assert table.loc["fenrun-segments", "drift"] == "🟢 no drift"
    assert app.title[0].value == "Model health"
