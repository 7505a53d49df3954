"""Proves model health reads each model's latest logged drift check, "no check yet" and unknowns."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from serving.config import ServingSettings
from serving.errors import NoDriftCheck, UnknownModel
from serving.model_health import DriftStatus, ModelHealthService
from tests.drift_store import AS_OF, THRESHOLD, DriftStore, build_drift_store
from training.config import TrainingSettings


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> DriftStore:
    return build_drift_store(tmp_path_factory.mktemp("mlflow"))


@pytest.fixture(scope="module")
def service(store: DriftStore) -> ModelHealthService:
    return ModelHealthService(store.serving)


@pytest.mark.integration
def test_latest_check_is_the_shifted_one(store: DriftStore, service: ModelHealthService) -> None:
    health = service.model("segments")
    assert health.name == "fenrun-segments" and health.champion_version == "1"
    assert health.status is DriftStatus.DRIFTED and health.checked_current_champion
    check = health.drift
    assert check is not None and check.run_id == store.shifted_run_id != store.calm_run_id
    assert check.alerts == ("refund_rate",) and check.drifted
    assert check.threshold == THRESHOLD and check.method == "wasserstein"
    assert check.as_of == AS_OF.to_pydatetime() and check.champion_version == "1"
    assert check.checked_at.tzinfo is UTC and check.checked_at <= datetime.now(UTC)
    assert [s.column for s in check.scores] == ["refund_rate", "aov_90d", "gmv_90d"]
    top = check.scores[0]
    assert top.score > THRESHOLD and top.above_threshold and top.alerted
    assert not any(s.alerted or s.above_threshold for s in check.scores[1:])


@pytest.mark.integration
def test_every_model_with_its_status(store: DriftStore, service: ModelHealthService) -> None:
    by_name = {m.name: m for m in service.models()}
    assert set(by_name) == {"fenrun-segments", "fenrun-steady", "fenrun-unchecked"}
    assert by_name["fenrun-segments"].status is DriftStatus.DRIFTED
    steady = by_name["fenrun-steady"]
    assert steady.status is DriftStatus.NO_DRIFT and steady.drift is not None
    assert steady.drift.run_id == store.steady_run_id and steady.drift.alerts == ()
    unchecked = by_name["fenrun-unchecked"]
    assert unchecked.status is DriftStatus.NO_CHECK and unchecked.drift is None
    assert unchecked.champion_version == "1"


@pytest.mark.integration
def test_unknown_model_and_missing_check_are_named_errors(service: ModelHealthService) -> None:
    with pytest.raises(UnknownModel, match="fenrun-nope"):
        service.model("nope")
    with pytest.raises(NoDriftCheck, match="fenrun-unchecked has no drift check"):
        service.latest_drift("unchecked")
    assert service.latest_drift("fenrun-steady").drifted is False


def test_a_store_not_created_yet_reads_as_no_models(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'never' / 'mlflow.db'}"
    service = ModelHealthService(ServingSettings(mlflow_tracking_uri=uri))
    assert service.models() == ()
    with pytest.raises(UnknownModel):
        service.model("segments")
    assert not (tmp_path / "never").exists()


def test_serving_reads_the_variables_training_writes_with(monkeypatch: pytest.MonkeyPatch
                                                          ) -> None:
    assert ServingSettings().mlflow_tracking_uri == TrainingSettings().mlflow_tracking_uri
    monkeypatch.setenv("FENRUN_MLFLOW_TRACKING_URI", "sqlite:////tmp/elsewhere.db")
    monkeypatch.setenv("FENRUN_MLFLOW_EXPERIMENT", "other")
    serving, training = ServingSettings(), TrainingSettings()
    assert serving.mlflow_tracking_uri == training.mlflow_tracking_uri == (
        "sqlite:////tmp/elsewhere.db")
    assert serving.mlflow_experiment == training.mlflow_experiment == "other"
