"""Registering the rate policy: a learned policy that beats fixed rates by DR on the logs becomes
champion of `fenrun-rate-policy` (its response model of `fenrun-rate-response`), a second run on
the same data with the same parameters registers nothing, a later candidate is judged against the
champion policy (not fixed rates) and promoted only when its DR estimate is strictly higher,
and serving's ChampionRegistry loads the response model and predicts exactly
what the in-memory model predicts."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient
from typer.testing import CliRunner

from api.cli import app
from features.simulator.response_config import ResponseConfig
from serving.champions import ChampionRegistry
from serving.config import ServingSettings
from tests.drift_store import _empty_store
from training.config import TrainingSettings
from training.policy.config import PolicyConfig
from training.policy.register import (
    INPUT_COLUMNS,
    POLICY_NAME,
    RESPONSE_NAME,
    ResponsePyfunc,
    learn_from_simulation,
    register_policy,
)

CFG = ResponseConfig(response_spread=0.6)
POLICY = PolicyConfig(trees=40, bags=4, min_explored_rows_per_arm=50)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> TrainingSettings:
    folder: Path = tmp_path_factory.mktemp("policy-mlflow")
    shutil.copyfile(_empty_store(), folder / "mlflow.db")
    return TrainingSettings(mlflow_tracking_uri=f"sqlite:///{folder / 'mlflow.db'}", seed=7,
                            mlflow_artifact_root=str(folder / "artifacts"),
                            mlflow_experiment="fenrun-test")


@pytest.mark.slow
def test_learned_policy_becomes_champion_once_and_round_trips_through_serving(
        store: TrainingSettings) -> None:
    model, frame, decision = learn_from_simulation(CFG, 1500, 11, 6, 0.3, POLICY)
    first = register_policy(store, model, frame, decision, POLICY)
    assert first.incumbent == "fixed"
    assert first.candidate_dr > first.incumbent_dr
    assert first.policy.promoted and first.policy.alias == "champion"
    assert first.response.promoted and first.response.alias == "champion"
    client = MlflowClient(tracking_uri=store.mlflow_tracking_uri,
                          registry_uri=store.mlflow_tracking_uri)
    version = client.get_model_version_by_alias(POLICY_NAME, "champion")
    assert "fixed" in version.tags["gate.rule"] and "promoted" in version.tags["gate.rule"]
    assert float(version.tags["gate.incumbent_dr_margin_per_row_yuan"]) == first.incumbent_dr

    again = register_policy(store, model, frame, decision, POLICY)
    assert not again.policy.registered and not again.response.registered
    assert len(client.search_model_versions(f"name='{POLICY_NAME}'")) == 1
    assert len(client.search_model_versions(f"name='{RESPONSE_NAME}'")) == 1

    registry = ChampionRegistry(ServingSettings(mlflow_tracking_uri=store.mlflow_tracking_uri))
    try:
        champion = registry.get("rate-response")
        rows = decision[INPUT_COLUMNS].head(200).reset_index(drop=True)
        rows = rows.assign(arm=np.arange(len(rows)) % len(model.ladder))
        served = champion.model.predict(rows)
        local = ResponsePyfunc(model).predict(None, rows)
        pd.testing.assert_frame_equal(served.reset_index(drop=True), local.reset_index(drop=True))
        policy = registry.get("rate-policy").model.predict(decision[INPUT_COLUMNS])
        assert set(policy["rate"]).issubset(set(model.ladder))
    finally:
        registry.close()

    # the same policy under other parameters is not strictly better than itself: challenger
    tighter = PolicyConfig(trees=40, bags=4, min_explored_rows_per_arm=50, budget_share=0.05)
    third = register_policy(store, model, frame, decision, tighter)
    assert third.incumbent == f"v{first.policy.version}"
    assert third.policy.registered
    assert third.policy.promoted == (third.candidate_dr > third.incumbent_dr)
    assert third.policy.alias == ("champion" if third.policy.promoted else "challenger")
    assert str(client.get_model_version_by_alias(POLICY_NAME, "champion").version) == (
        third.policy.version if third.policy.promoted else first.policy.version)


def test_a_response_model_rejects_an_arm_off_the_ladder(store: TrainingSettings) -> None:
    model, _, decision = learn_from_simulation(CFG, 600, 12, 4, 0.5,
                                               PolicyConfig(trees=10, bags=2,
                                                            min_explored_rows_per_arm=20))
    rows = decision[INPUT_COLUMNS].head(3).assign(arm=len(model.ladder))
    with pytest.raises(ValueError, match="arm"):
        ResponsePyfunc(model).predict(None, rows)


@pytest.mark.slow
def test_cli_registers_then_registers_nothing_on_the_same_log(tmp_path: Path) -> None:
    shutil.copyfile(_empty_store(), tmp_path / "mlflow.db")
    env = {"FENRUN_MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'mlflow.db'}",
           "FENRUN_MLFLOW_ARTIFACT_ROOT": str(tmp_path / "artifacts")}
    args = ["policy", "register", "--promoters", "1500", "--seed", "11", "--history-cycles", "6",
            "--exploration", "0.3", "--response-spread", "0.6"]
    first = CliRunner().invoke(app, args, env=env)
    assert first.exit_code == 0, first.output
    assert "fenrun-rate-policy: v1 -> champion" in first.output
    assert "fenrun-rate-response: v1 -> champion" in first.output
    second = CliRunner().invoke(app, args, env=env)
    assert second.exit_code == 0, second.output
    assert "fenrun-rate-policy: nothing registered" in second.output


def test_cli_refuses_a_log_without_exploration(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["policy", "register", "--promoters", "300",
                                      "--exploration", "0"],
                                env={"FENRUN_MLFLOW_TRACKING_URI":
                                     f"sqlite:///{tmp_path / 'mlflow.db'}"})
    assert result.exit_code == 2
    assert "explored rows" in result.output
    assert not (tmp_path / "mlflow.db").exists()  # refused before touching the store
