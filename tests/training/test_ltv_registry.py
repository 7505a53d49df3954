"""Proves the `fenrun-ltv` gate: a candidate that does not beat BG/NBD is never champion (even with
no champion yet), a better one is, the same run again registers nothing, and
`models:/fenrun-ltv@champion`
loads back and predicts what the trained model predicted (with a promotion calendar too, the
feature cutoff travelling as the pyfunc's `as_of` parameter)."""

from __future__ import annotations

from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from serving.champions import ChampionRegistry, load_model
from serving.config import ServingSettings
from serving.ltv import forecast
from tests.training.ltv_fixtures import synthetic_history
from training.config import TrainingSettings
from training.ltv.calendar import PromotionCalendar
from training.ltv.model import LtvParams
from training.ltv.train import champion_predictions, train_ltv
from training.registry import champion_uri, current_champion

CUTOFF = pd.Timestamp("2026-09-01T00:00Z")
FAST = LtvParams(n_estimators=120, learning_rate=0.08)


@pytest.fixture(scope="module")
def history():
    return synthetic_history()


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> TrainingSettings:
    root: Path = tmp_path_factory.mktemp("ltv-mlflow")
    return TrainingSettings(database_url="sqlite://",
                            mlflow_tracking_uri=f"sqlite:///{root / 'mlflow.db'}",
                            mlflow_artifact_root=str(root / "artifacts"),
                            mlflow_experiment="ltv-tests", seed=42)


@pytest.mark.slow
def test_gate_and_champion_round_trip(history, store: TrainingSettings) -> None:
    # 1. BG/NBD alone cannot beat BG/NBD: registered, but never champion, even as the first.
    weak = train_ltv(history, store, CUTOFF, 90, FAST, kind="bgnbd")
    assert weak.decision.alias == "challenger" and not weak.decision.promoted
    assert "does not beat BG/NBD" in weak.decision.rule
    assert current_champion("ltv") is None
    run = MlflowClient().get_run(weak.run_id)
    assert "does not beat BG/NBD" in run.data.tags["gate.rule"]

    # 2. A LightGBM candidate that beats BG/NBD becomes the first champion.
    strong = train_ltv(history, store, CUTOFF, 90, FAST, kind="tweedie")
    assert strong.decision.promoted and strong.decision.alias == "champion", strong.decision.rule
    run = MlflowClient().get_run(strong.run_id)
    assert run.data.params["kind"] == "tweedie" and "train_data_fingerprint" in run.data.tags
    assert {"candidate_gini", "bgnbd_gini", "historical_avg_gini"} <= set(run.data.metrics)
    artifacts = {a.path for a in MlflowClient().list_artifacts(strong.run_id)}
    assert {"features.json", "model_card.md", "metrics_table.txt"} <= artifacts

    # 3. The champion loads through its alias and predicts what the trained model predicted.
    held = strong.evaluation.split.evaluation.frame
    loaded = champion_predictions(held, champion_uri("ltv"))
    np.testing.assert_allclose(loaded, strong.evaluation.predictions["predicted"], rtol=1e-9)
    registry = ChampionRegistry(ServingSettings(mlflow_tracking_uri=store.mlflow_tracking_uri))
    served = registry.get("ltv")  # serving's forecast of the same champion: the same numbers
    registry.close()
    assert served.version == strong.decision.version
    np.testing.assert_allclose(forecast(served.model, held),
                               strong.evaluation.predictions["predicted"], rtol=1e-9)
    info = mlflow.models.get_model_info(champion_uri("ltv"))
    assert info.signature is not None and info.saved_input_example_info is not None

    # 4. Retraining the same model on the same data: nothing new is registered, the champion
    #    stays.
    again = train_ltv(history, store, CUTOFF, 90, FAST, kind="tweedie")
    assert not again.decision.promoted and not again.decision.registered
    assert again.decision.version == strong.decision.version
    assert str(current_champion("ltv").version) == strong.decision.version

    # 5. With a calendar the registered model places the window through `as_of` and still
    #    predicts what was evaluated (dropping the parameter would change every prediction).
    days = {(CUTOFF + pd.Timedelta(days=d)).date(): "main" for d in (-150, -40, 30, 60)}
    dated = train_ltv(history, store, CUTOFF, 90, FAST, kind="tweedie",
                      calendar=PromotionCalendar("UTC", days))
    assert dated.evaluation.model.seasonality.kinds.keys() == {"main"}
    run = MlflowClient().get_run(dated.run_id)
    assert run.data.params["calendar_days"] == "4"
    uri = f"models:/{dated.decision.model_name}/{dated.decision.version}"
    np.testing.assert_allclose(champion_predictions(held, uri),
                               dated.evaluation.predictions["predicted"], rtol=1e-9)
    np.testing.assert_allclose(forecast(load_model(uri), held),  # serving passes `as_of` too
                               dated.evaluation.predictions["predicted"], rtol=1e-9)
