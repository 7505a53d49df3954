"""Settings of the serving package, read from `FENRUN_` variables once at an entry point.

The MLflow variables are the ones `training` writes with (`FENRUN_MLFLOW_TRACKING_URI`,
`FENRUN_MLFLOW_EXPERIMENT`), with the same defaults, so serving reads what training wrote without
importing it. Nothing here is built at import time: the API factory or the dashboard builds
`ServingSettings()` once and hands it down; tests pass explicit values.
"""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ServingSettings(BaseSettings):
    """Where the model registry, the drift runs and the report snapshots are read from."""

    model_config = SettingsConfigDict(env_prefix="FENRUN_", extra="ignore")

    # Tracking and registry store (training uses the same URI for both).
    mlflow_tracking_uri: str = "sqlite:///.fenrun/mlflow.db"
    # The experiment training logs its runs to, drift checks included.
    mlflow_experiment: str = "fenrun"
    # Snapshots of point-in-time reports (promoter LTV/CAC), as `fenrun ltv promoters` stores them.
    feature_store_dir: str = ".fenrun/features"
    # How long a loaded champion is served before its alias is looked up again (seconds). A moved
    # alias is noticed within this time and the new version loaded in the background while the
    # old one keeps answering; 0 looks it up on every call (tests). Bounded at one hour.
    champion_refresh_s: float = Field(default=30.0, ge=0.0, le=3600.0)
