"""Proves the anomaly detector: it ranks the simulator's fraudsters well above chance, metrics are
reproducible for the same data and seed, and the champion loads through the registry."""

from __future__ import annotations

import mlflow
import numpy as np
import pandas as pd
import pytest

from training import anomaly
from training.config import TrainingSettings
from training.registry import champion_uri, current_champion


@pytest.fixture(scope="module")
def first(settings: TrainingSettings, profiles: pd.DataFrame) -> anomaly.TrainOutcome:
    return anomaly.train(settings, profiles)


def test_detector_beats_chance_and_loads(first, profiles: pd.DataFrame) -> None:  # noqa: ANN001
    metrics = first.metrics
    assert first.decision.promoted
    assert metrics["pr_auc"] > 3 * metrics["base_rate"]
    assert any(k.startswith("recall_") and k != "recall_at_budget" for k in metrics)
    model = mlflow.sklearn.load_model(champion_uri("anomaly"))
    scores = anomaly.anomaly_scores(model, profiles)
    assert scores.shape == (len(profiles),) and np.isfinite(scores).all()
    card = mlflow.artifacts.download_artifacts(run_id=first.run_id, artifact_path="model_card.md")
    assert "## Limits" in open(card).read()


def test_same_data_and_seed_same_metrics(first, settings, profiles) -> None:  # noqa: ANN001
    again = anomaly.train(settings, profiles)
    assert again.metrics == first.metrics
    assert again.decision.alias == "challenger"
    assert str(current_champion("anomaly").version) == first.decision.version


@pytest.mark.slow
def test_without_labels_nothing_is_promoted(settings, profiles) -> None:  # noqa: ANN001
    unlabelled = settings.model_copy(update={"fraud_labels_path": None})
    outcome = anomaly.train(unlabelled, profiles)
    assert np.isnan(outcome.metrics["pr_auc"]) and not outcome.decision.promoted


def test_evaluate_on_hand_built_scores() -> None:
    types = pd.Series(["none"] * 16 + ["device_farm", "device_farm", "click_spam", "none"])
    scores = np.r_[np.zeros(16), 3.0, 2.0, 0.5, 1.0]
    metrics = anomaly.evaluate(scores, types, alert_share=0.1)  # budget: 2 promoters
    assert metrics["precision_at_k"] == pytest.approx(2 / 3)
    assert metrics["recall_device_farm"] == 1.0 and metrics["recall_click_spam"] == 0.0
    assert metrics["precision_at_budget"] == 1.0
    assert np.isnan(anomaly.evaluate(scores, pd.Series(["none"] * 20))["pr_auc"])
