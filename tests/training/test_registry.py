"""Proves the champion gate: first version is champion, a worse or equal candidate stays challenger
with the champion alias unchanged, a better one is promoted; the rule and scores are logged."""

from __future__ import annotations

import math

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient
from sklearn.linear_model import LinearRegression

from training.config import TrainingSettings
from training.registry import (
    _decide,
    champion_uri,
    current_champion,
    data_fingerprint,
    log_model_card,
    register_and_gate,
)

X = pd.DataFrame({"a": np.arange(10.0), "b": np.arange(10.0) ** 2})


def candidate(score: float, scores: dict[str, float]) -> tuple[str, float]:
    """Log a toy model (pinned requirements: inferring them costs seconds); `scores` maps
    version -> the score `score_champion` reports for it."""
    with mlflow.start_run() as run:
        mlflow.sklearn.log_model(LinearRegression().fit(X, X["a"]), name="model",
                                 pip_requirements=["scikit-learn"])
    return run.info.run_id, score


def gate(run_id: str, score: float, scores: dict[str, float], higher: bool = True,
         name: str = "toy"):  # noqa: ANN201
    decision = register_and_gate(run_id, "model", name, "r2", score,
                                 lambda uri: scores[uri.rsplit("/", 1)[1]], higher)
    scores[decision.version] = score
    return decision


def test_gate_sequence(settings: TrainingSettings) -> None:
    scores: dict[str, float] = {}
    first = gate(*candidate(0.5, scores), scores)
    assert first.promoted and first.alias == "champion" and first.champion is None
    worse = gate(*candidate(0.4, scores), scores)
    assert not worse.promoted and worse.alias == "challenger" and worse.champion == 0.5
    assert str(current_champion("toy").version) == first.version
    tie = gate(*candidate(0.5, scores), scores)
    assert tie.alias == "challenger" and "not strictly" in tie.rule
    better = gate(*candidate(0.7, scores), scores)
    assert better.promoted and str(current_champion("fenrun-toy").version) == better.version
    run = MlflowClient().get_run(mlflow.search_runs(order_by=["start_time DESC"]).run_id[0])
    assert run.data.tags["gate.alias"] == "champion"
    assert run.data.metrics["gate_candidate_r2"] == 0.7
    assert run.data.metrics["gate_champion_r2"] == 0.5
    assert mlflow.sklearn.load_model(champion_uri("toy")).predict(X.head(1)).shape == (1,)


def test_lower_is_better_nan_and_missing_scorer(settings: TrainingSettings) -> None:
    scores: dict[str, float] = {}
    first = register_and_gate(candidate(2.0, scores)[0], "model", "err", "mae", 2.0, None,
                              higher_is_better=False)
    assert first.promoted
    scores[first.version] = 2.0
    lower = gate(*candidate(1.0, scores), scores, higher=False, name="err")
    assert lower.promoted
    nan = register_and_gate(candidate(0, scores)[0], "model", "err", "mae", math.nan,
                            lambda uri: 1.0, higher_is_better=False)
    assert not nan.promoted
    blind = register_and_gate(candidate(0, scores)[0], "model", "err", "mae", 0.1, None,
                              higher_is_better=False)
    assert not blind.promoted and "no scorer" in blind.rule
    assert str(current_champion("err").version) == lower.version


def test_fingerprint_is_stable_and_sensitive() -> None:
    same = pd.DataFrame({"a": [1.0, 2.0], "b": ["x", "y"]}, index=[5, 6])
    assert data_fingerprint(X) == data_fingerprint(X.copy())
    assert data_fingerprint(same) == data_fingerprint(same.reset_index(drop=True))
    changed = same.copy()
    changed.loc[5, "a"] = 1.5
    assert data_fingerprint(changed) != data_fingerprint(same)
    assert data_fingerprint(same[["b", "a"]]) != data_fingerprint(same)


def test_model_card_is_logged(settings: TrainingSettings) -> None:
    with mlflow.start_run() as run:
        text = log_model_card(model_name="toy", purpose="why", data={"rows": 10},
                              features=["a", "b"], metrics={"r2": 0.5}, limits=["small"])
    assert "# Model card: fenrun-toy" in text and "| r2 | 0.5 |" in text
    path = mlflow.artifacts.download_artifacts(run_id=run.info.run_id,
                                               artifact_path="model_card.md")
    assert open(path).read() == text


@pytest.mark.parametrize("name", ["toy", "fenrun-toy"])
def test_names_get_one_prefix(name: str) -> None:
    assert champion_uri(name) == "models:/fenrun-toy@champion"


def _fingerprinted(fingerprint: str, params: dict[str, object]) -> str:
    """A toy run tagged with a data fingerprint and parameters, as every trainer logs them."""
    with mlflow.start_run() as run:
        mlflow.log_params(params)
        mlflow.set_tag("data_fingerprint", fingerprint)
        mlflow.sklearn.log_model(LinearRegression().fit(X, X["a"]), name="model",
                                 pip_requirements=["scikit-learn"])
    return run.info.run_id


def test_the_same_data_and_parameters_register_no_new_version(settings: TrainingSettings
                                                              ) -> None:
    first = register_and_gate(_fingerprinted("d1", {"k": 3}), "model", "twin", "r2", 0.5, None)
    same = register_and_gate(_fingerprinted("d1", {"k": 3}), "model", "twin", "r2", 0.5,
                             lambda uri: 0.5)
    assert not same.registered and same.version == first.version and same.alias == "champion"
    assert "no new version registered" in same.rule
    other_params = register_and_gate(_fingerprinted("d1", {"k": 4}), "model", "twin", "r2",
                                     0.4, lambda uri: 0.5)
    other_data = register_and_gate(_fingerprinted("d2", {"k": 3}), "model", "twin", "r2", 0.4,
                                   lambda uri: 0.5)
    assert other_params.registered and other_data.registered
    again = register_and_gate(_fingerprinted("d2", {"k": 3}), "model", "twin", "r2", 0.4,
                              lambda uri: 0.5)  # the challenger's twin: nothing new either
    assert not again.registered and again.version == other_data.version
    versions = MlflowClient().search_model_versions("name = 'fenrun-twin'")
    assert len(versions) == 3


def test_an_expected_nan_score_is_said_and_the_first_becomes_champion() -> None:
    why = "no fraud labels (pass --labels to compare detectors)"
    promoted, rule = _decide("pr_auc", math.nan, None, False, True, unscored=why)
    assert promoted and "no champion yet and no fraud labels" in rule
    promoted, rule = _decide("pr_auc", math.nan, 0.8, True, True, unscored=why)
    assert not promoted and rule.startswith("no fraud labels") and "kept challenger" in rule
    promoted, rule = _decide("pr_auc", math.nan, None, False, True)  # unexpected NaN
    assert not promoted and "NaN: never promoted" in rule
