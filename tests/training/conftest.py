"""ML test fixtures: one small simulated mall per session, a fresh MLflow store per module."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from features.profiles import build_profiles
from settlement.db import create_db_engine
from tests.training.mall import Mall, build_mall
from training.config import TrainingSettings
from training.registry import configure_tracking


@pytest.fixture(scope="session")
def mall(tmp_path_factory: pytest.TempPathFactory) -> Mall:
    return build_mall(tmp_path_factory.mktemp("mall"))


@pytest.fixture(scope="session")
def profiles(mall: Mall) -> pd.DataFrame:
    engine = create_db_engine(mall.database_url)
    try:
        return build_profiles(engine, mall.last_at)
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def settings(mall: Mall, tmp_path_factory: pytest.TempPathFactory
             ) -> Iterator[TrainingSettings]:
    """Settings pointing at a temporary MLflow store (SQLite backend) used by one test module."""
    store: Path = tmp_path_factory.mktemp("mlflow")
    settings = TrainingSettings(
        database_url=mall.database_url,
        mlflow_tracking_uri=f"sqlite:///{store / 'mlflow.db'}",
        mlflow_artifact_root=str(store / "artifacts"),
        mlflow_experiment="fenrun-test",
        feature_store_dir=str(store / "features"),
        fraud_labels_path=str(mall.labels_path),
        train_as_of=mall.last_at.isoformat(),
        seed=7,
    )
    configure_tracking(settings)
    yield settings
