"""Training data: point-in-time profiles (from a stored snapshot or freshly built), stable
holdout splits, and the reference sample every model logs for drift monitoring.

The holdout is a hash of the promoter id, not a random draw: the same promoters are held out on
every retrain, which is what lets the champion gate compare a candidate and the champion on the
*same* holdout.
"""

from __future__ import annotations

import hashlib
import tempfile

import mlflow
import numpy as np
import pandas as pd

from features.profiles import build_profiles
from features.profiles.store import read_snapshot, write_snapshot
from settlement.db import create_db_engine
from settlement.read_model import last_event_at
from training.config import TrainingSettings

REFERENCE_ARTIFACT = "reference/profiles.parquet"
REFERENCE_ROWS = 5_000


def resolve_as_of(settings: TrainingSettings) -> pd.Timestamp:
    """`settings.train_as_of`, or the instant of the last event recorded in the books."""
    if settings.train_as_of:
        return pd.Timestamp(settings.train_as_of).tz_convert("UTC")
    engine = create_db_engine(settings.database_url)
    with engine.connect() as conn:
        last = last_event_at(conn)
    if last is None:
        raise ValueError(f"no events in {settings.database_url}: settle some or pass --as-of")
    return pd.Timestamp(last).tz_convert("UTC")


def load_profiles(settings: TrainingSettings, as_of: pd.Timestamp) -> pd.DataFrame:
    """The stored snapshot of `as_of` if there is one, else built from the books and stored."""
    try:
        return read_snapshot(settings.feature_store_dir, as_of)
    except FileNotFoundError:
        pass
    engine = create_db_engine(settings.database_url)
    profiles = build_profiles(engine, as_of, local_tz=settings.local_tz)
    if not profiles.empty:  # nobody had joined by then: nothing worth keeping
        write_snapshot(profiles, settings.feature_store_dir)
    return profiles


def in_holdout(ids: pd.Series, fraction: float, salt: str = "fenrun-holdout") -> np.ndarray:
    """True for the ids in the holdout: a stable hash bucket, identical across retrains."""
    buckets = np.fromiter(
        (int.from_bytes(hashlib.blake2b(f"{salt}:{i}".encode(), digest_size=8).digest(), "big")
         for i in ids), dtype=np.uint64, count=len(ids))
    return (buckets % np.uint64(10_000)) < np.uint64(round(fraction * 10_000))


def split(profiles: pd.DataFrame, fraction: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(train, holdout) by promoter id."""
    mask = in_holdout(profiles["promoter_id"], fraction)
    return profiles.loc[~mask].reset_index(drop=True), profiles.loc[mask].reset_index(drop=True)


def log_reference(frame: pd.DataFrame, seed: int, rows: int = REFERENCE_ROWS) -> None:
    """Log a sample of the training features to the active run: drift is measured against it."""
    sample = frame.sample(n=min(rows, len(frame)), random_state=seed).sort_index()
    with tempfile.TemporaryDirectory(prefix="fenrun-ref-") as folder:
        path = f"{folder}/profiles.parquet"
        sample.to_parquet(path, index=False)
        mlflow.log_artifact(path, artifact_path="reference")

