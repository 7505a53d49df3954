"""Settings of the training package, read from `FENRUN_` variables once at an entry point.

Nothing here is built at import time: a CLI command or a test constructs `TrainingSettings()` (or
passes explicit values) and hands it down, so a test can point MLflow at a temporary store.
"""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class TrainingSettings(BaseSettings):
    """Where runs and models are tracked, and the knobs every trainer shares."""

    model_config = SettingsConfigDict(env_prefix="FENRUN_", extra="ignore")

    database_url: str = "sqlite:///.fenrun/fenrun.db"
    mlflow_tracking_uri: str = "sqlite:///.fenrun/mlflow.db"
    # A local path or URI; kept apart from the tracking store so a SQLite backend stays small.
    mlflow_artifact_root: str = ".fenrun/mlartifacts"
    mlflow_experiment: str = "fenrun"
    # Where point-in-time feature snapshots are written as Parquet (one file per as-of).
    feature_store_dir: str = ".fenrun/features"
    # The instant training data is taken as of; None means the last event in the books.
    train_as_of: str | None = None
    # Ground-truth fraud labels (the simulator's labels.csv) for evaluating the anomaly detector;
    # without them the first detector becomes champion unscored, later ones stay challenger.
    fraud_labels_path: str | None = None
    # The mall's local time zone, for night-time features.
    local_tz: str = "Asia/Shanghai"
    seed: int = 42
    # Share of entities held out for the champion gate; the same split for candidate and champion.
    holdout_fraction: float = Field(default=0.25, gt=0.0, lt=0.9)
    # Drift: a critical feature alerts when its drift score passes this threshold.
    drift_threshold: float = Field(default=0.1, gt=0.0, le=1.0)
