"""A temporary MLflow store with real drift checks: the shared data of the serving, API and
dashboard tests (built per test module, about three seconds).

It trains a tiny segments champion on hand-built profiles (the same way
`tests/training/test_drift.py` does on the simulated mall, without the mall's set-up time) and runs
`training.drift.check_drift` for real, so the read side is tested against what training writes:
- `fenrun-segments`: a calm check, then (if `drifted`) one with `refund_rate` shifted by +0.3;
- `fenrun-steady`: the same champion registered under a second name, one calm check;
- `fenrun-unchecked`: the same champion again, never checked.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
from mlflow.tracking import MlflowClient

from serving.config import ServingSettings
from training import drift, segments
from training.config import TrainingSettings
from training.registry import CHAMPION, configure_tracking, current_champion

PROMOTERS = 300
THRESHOLD = 0.1
AS_OF = pd.Timestamp("2026-03-01T00:00:00Z")
# The current frames carry only these columns: drift is scored on the columns both frames share,
# and three columns keep a check well under a second.
CHECKED = ["promoter_id", "as_of", "refund_rate", "gmv_90d", "aov_90d"]


@dataclass(frozen=True)
class DriftStore:
    """Settings for the store and the run ids of the checks logged into it."""

    training: TrainingSettings
    serving: ServingSettings
    calm_run_id: str  # fenrun-segments' first check
    shifted_run_id: str | None  # fenrun-segments' latest check when built with drifted=True
    steady_run_id: str


def tiny_profiles(n: int = PROMOTERS, seed: int = 0) -> pd.DataFrame:
    """Profiles with the segment features: heavy-tailed amounts, a refund rate mostly zero."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({c: rng.lognormal(2.0, 1.0, n) for c in segments.SEGMENT_FEATURES})
    frame["refund_rate"] = np.where(rng.random(n) < 0.3, rng.beta(1, 12, n), 0.0)
    frame.insert(0, "promoter_id", [f"P{i}" for i in range(n)])
    frame["as_of"] = AS_OF
    return frame


@cache
def _empty_store() -> Path:
    """An MLflow SQLite store with its schema, made once per process: creating the schema runs
    MLflow's migrations (seconds); copying the file costs nothing."""
    folder = Path(tempfile.mkdtemp(prefix="fenrun-mlflow-template-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    MlflowClient(tracking_uri=f"sqlite:///{folder / 'mlflow.db'}").search_experiments()
    return folder / "mlflow.db"


def _copy_champion(client: MlflowClient, source: str, name: str) -> None:
    """Register the champion of `source` as the champion of another model name."""
    version = current_champion(source, client)
    assert version is not None, f"{source} has no champion"
    client.create_registered_model(name)
    copy = client.create_model_version(name, source=version.source, run_id=version.run_id)
    client.set_registered_model_alias(name, CHAMPION, copy.version)


def build_drift_store(folder: Path, drifted: bool = True) -> DriftStore:
    """Train the champion, register the copies and log the checks described above."""
    shutil.copyfile(_empty_store(), folder / "mlflow.db")
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    settings = TrainingSettings(mlflow_tracking_uri=uri,
                                mlflow_artifact_root=str(folder / "artifacts"),
                                mlflow_experiment="fenrun-test", seed=7)
    configure_tracking(settings)
    profiles = tiny_profiles()
    segments.train(settings, profiles, k_range=range(3, 4))
    client = MlflowClient()
    _copy_champion(client, "segments", "fenrun-steady")
    _copy_champion(client, "segments", "fenrun-unchecked")
    current = profiles[CHECKED]
    calm = drift.check_drift(current, "segments", THRESHOLD)
    steady = drift.check_drift(current, "steady", THRESHOLD)
    shifted = None
    if drifted:
        shifted = drift.check_drift(current.assign(refund_rate=current["refund_rate"] + 0.3),
                                    "segments", THRESHOLD)
        assert shifted.alerts == ["refund_rate"], shifted.scores  # the set-up itself is sound
    assert calm.run_id is not None and steady.run_id is not None
    return DriftStore(settings,
                      ServingSettings(mlflow_tracking_uri=uri, mlflow_experiment="fenrun-test"),
                      calm.run_id, shifted.run_id if shifted else None, steady.run_id)
