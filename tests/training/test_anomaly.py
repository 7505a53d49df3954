"""Proves the anomaly detector: it ranks the simulator's fraudsters well above chance, metrics are
reproducible for the same data and seed (and the same run registers nothing new), a mall without
labels still gets a champion, and serving flags with the champion it loads through the registry."""

from __future__ import annotations

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient
from typer.testing import CliRunner

from api.cli import app
from features.outliers import robust_z
from serving import anomaly as serving_anomaly
from serving.champions import ChampionRegistry
from serving.config import ServingSettings
from serving.risk import RiskService
from settlement.db import create_db_engine
from settlement.reports import promoter_balances
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


def test_same_data_and_seed_same_metrics_and_no_new_version(first, settings, profiles
                                                            ) -> None:  # noqa: ANN001
    again = anomaly.train(settings, profiles)
    assert again.metrics == first.metrics
    assert not again.decision.registered and again.decision.version == first.decision.version
    assert "no new version registered" in again.decision.rule
    versions = MlflowClient().search_model_versions("name = 'fenrun-anomaly'")
    assert [str(v.version) for v in versions] == [first.decision.version]
    assert str(current_champion("anomaly").version) == first.decision.version


@pytest.mark.slow
def test_without_labels_a_challenger_is_registered_and_said_why(settings, profiles
                                                                 ) -> None:  # noqa: ANN001
    unlabelled = settings.model_copy(update={"fraud_labels_path": None})
    outcome = anomaly.train(unlabelled, profiles)
    assert np.isnan(outcome.metrics["pr_auc"]) and not outcome.decision.promoted
    assert outcome.decision.registered and outcome.decision.alias == "challenger"
    assert "no fraud labels" in outcome.decision.rule
    again = anomaly.train(unlabelled, profiles)  # the same unlabelled run: nothing new
    assert not again.decision.registered and again.decision.version == outcome.decision.version


def test_evaluate_on_hand_built_scores() -> None:
    types = pd.Series(["none"] * 16 + ["device_farm", "device_farm", "click_spam", "none"])
    scores = np.r_[np.zeros(16), 3.0, 2.0, 0.5, 1.0]
    metrics = anomaly.evaluate(scores, types, alert_share=0.1)  # budget: 2 promoters
    assert metrics["precision_at_k"] == pytest.approx(2 / 3)
    assert metrics["recall_device_farm"] == 1.0 and metrics["recall_click_spam"] == 0.0
    assert metrics["precision_at_budget"] == 1.0
    assert np.isnan(anomaly.evaluate(scores, pd.Series(["none"] * 20))["pr_auc"])


def test_flag_ranks_the_budget_and_names_the_unusual_features(
        first, settings, profiles) -> None:  # noqa: ANN001
    registry = ChampionRegistry(ServingSettings(mlflow_tracking_uri=settings.mlflow_tracking_uri))
    champion = registry.get("anomaly")
    assert champion.version == first.decision.version
    flags = serving_anomaly.flag(champion.model, profiles, alert_share=0.05)
    assert list(flags["promoter_id"]) == list(profiles["promoter_id"])
    assert sorted(flags["rank"]) == list(range(1, len(flags) + 1))
    flagged = flags[flags["flagged"]]
    assert len(flagged) == int(np.ceil(0.05 * len(flags)))
    assert flagged["score"].min() >= flags.loc[~flags["flagged"], "score"].max()
    assert (flagged["reasons"].str.len() > 0).all() and (flags.loc[~flags["flagged"],
                                                                   "reasons"] == "").all()
    # the first reason of the top promoter is its feature furthest from the median
    top = flagged.sort_values("rank").iloc[0]
    z = robust_z(profiles[list(anomaly.ANOMALY_FEATURES)])
    row = z[profiles["promoter_id"] == top["promoter_id"]].iloc[0]
    assert top["reasons"].startswith(row.abs().idxmax() + " ")
    labels = anomaly._labels_for(profiles, settings)
    fraud = (labels != "none").to_numpy()
    assert fraud[flags["flagged"].to_numpy()].mean() > 3 * fraud.mean()  # flags find fraud
    with pytest.raises(ValueError, match="alert_share"):
        serving_anomaly.flag(champion.model, profiles, alert_share=0)
    registry.close()


def test_cli_stores_the_triage_list_with_the_unpaid_commission(
        first, settings: TrainingSettings, tmp_path) -> None:  # noqa: ANN001
    env = {"FENRUN_DATABASE_URL": settings.database_url,
           "FENRUN_MLFLOW_TRACKING_URI": settings.mlflow_tracking_uri,
           "FENRUN_MLFLOW_ARTIFACT_ROOT": settings.mlflow_artifact_root,
           "FENRUN_MLFLOW_EXPERIMENT": settings.mlflow_experiment,
           "FENRUN_FEATURE_STORE_DIR": str(tmp_path)}
    result = CliRunner().invoke(app, ["risk", "flag", "--as-of", settings.train_as_of],
                                env=env)
    assert result.exit_code == 0, result.output
    assert "promoters flagged by models:/fenrun-anomaly@champion" in result.output
    triage = RiskService(ServingSettings(feature_store_dir=str(tmp_path))).triage()
    assert triage.as_of == pd.Timestamp(settings.train_as_of)
    engine = create_db_engine(settings.database_url)
    with engine.connect() as conn:
        balances = promoter_balances(conn, triage.currency)
    engine.dispose()
    for row in triage.flagged.head(20).itertuples():
        owed = balances.get(row.promoter_id)
        expected = owed.pending_minor + owed.available_minor if owed else 0
        assert row.unpaid_minor == expected
    assert triage.unpaid_at_stake_minor >= 0


def test_cli_without_an_anomaly_champion_says_how_to_get_one(tmp_path) -> None:  # noqa: ANN001
    env = {"FENRUN_MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'mlflow.db'}",
           "FENRUN_FEATURE_STORE_DIR": str(tmp_path)}
    result = CliRunner().invoke(app, ["risk", "flag", "--as-of", "2026-04-01T00:00:00Z"],
                                env=env)
    assert result.exit_code == 2
    assert "fenrun train anomaly" in result.output


def test_cli_before_anyone_joined_is_refused(first, settings: TrainingSettings,
                                              tmp_path) -> None:  # noqa: ANN001
    env = {"FENRUN_DATABASE_URL": settings.database_url,
           "FENRUN_MLFLOW_TRACKING_URI": settings.mlflow_tracking_uri,
           "FENRUN_MLFLOW_EXPERIMENT": settings.mlflow_experiment,
           "FENRUN_FEATURE_STORE_DIR": str(tmp_path)}
    result = CliRunner().invoke(app, ["risk", "flag", "--as-of", "2000-01-01T00:00:00Z"],
                                env=env)
    assert result.exit_code == 2
    assert "--as-of: no promoter had joined by 2000-01-01" in result.output
    assert not any(tmp_path.rglob("*.parquet"))
