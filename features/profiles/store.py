"""Parquet snapshots, one file per table and as-of instant, so a run can be reproduced.

Layout: `<root>/<table>/as_of=<YYYYmmddTHHMMSSZ>.parquet`; the table defaults to the promoter
profiles. Other point-in-time reports of the books (promoter LTV/CAC) use the same store under
their own table. A snapshot is replaced only by a rebuild for the same as-of (a function of the
books as of then), and atomically: a reader never sees half a file.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from features.profiles.domain import as_utc

TABLE = "promoter_profiles"
# Promoter and channel LTV/CAC (`fenrun ltv promoters`): written by training, read by serving.
PROMOTER_VALUE_TABLE = "promoter_value"
CHANNEL_VALUE_TABLE = "channel_value"
# Anomaly scores and triage flags (`fenrun risk flag`): written by training, read by serving.
ANOMALY_FLAGS_TABLE = "anomaly_flags"
STAMP = "%Y%m%dT%H%M%SZ"


def snapshot_path(root: str | Path, as_of: object, table: str = TABLE) -> Path:
    """Where the snapshot of `as_of` lives."""
    return Path(root) / table / f"as_of={as_utc(as_of).strftime(STAMP)}.parquet"


def write_snapshot(profiles: pd.DataFrame, root: str | Path, table: str = TABLE) -> Path:
    """Write rows built for one as-of (the `as_of` column) and return the file."""
    stamps = profiles["as_of"].unique()
    if len(stamps) != 1:
        raise ValueError(f"{table}: a snapshot holds one as_of, got {len(stamps)}")
    path = snapshot_path(root, stamps[0], table)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    profiles.to_parquet(tmp, index=False)
    tmp.replace(path)  # readers never see a half-written snapshot
    return path


def read_snapshot(root: str | Path, as_of: object, table: str = TABLE) -> pd.DataFrame:
    """The stored rows of exactly `as_of`; FileNotFoundError when none was built."""
    return pd.read_parquet(snapshot_path(root, as_of, table))


def list_snapshots(root: str | Path, table: str = TABLE) -> list[pd.Timestamp]:
    """The as-of instants with a stored snapshot, oldest first."""
    folder = Path(root) / table
    stamps = [pd.to_datetime(p.stem.removeprefix("as_of="), format=STAMP, utc=True)
              for p in folder.glob("as_of=*.parquet")] if folder.exists() else []
    return sorted(stamps)
