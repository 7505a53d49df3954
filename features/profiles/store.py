"""Parquet snapshots of promoter profiles, one file per as-of instant, so a run can be reproduced.

Layout: `<root>/promoter_profiles/as_of=<YYYYmmddTHHMMSSZ>.parquet`. A snapshot is written once
and replaced only by an identical rebuild (the profiles are a function of the books as of then).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from features.profiles.domain import as_utc

TABLE = "promoter_profiles"
STAMP = "%Y%m%dT%H%M%SZ"


def snapshot_path(root: str | Path, as_of: object) -> Path:
    """Where the snapshot of `as_of` lives."""
    return Path(root) / TABLE / f"as_of={as_utc(as_of).strftime(STAMP)}.parquet"


def write_snapshot(profiles: pd.DataFrame, root: str | Path) -> Path:
    """Write profiles built for one as-of (the `as_of` column) and return the file."""
    stamps = profiles["as_of"].unique()
    if len(stamps) != 1:
        raise ValueError(f"profiles: a snapshot holds one as_of, got {len(stamps)}")
    path = snapshot_path(root, stamps[0])
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    profiles.to_parquet(tmp, index=False)
    tmp.replace(path)  # readers never see a half-written snapshot
    return path


def read_snapshot(root: str | Path, as_of: object) -> pd.DataFrame:
    """The stored profiles of exactly `as_of`; FileNotFoundError when none was built."""
    return pd.read_parquet(snapshot_path(root, as_of))


def list_snapshots(root: str | Path) -> list[pd.Timestamp]:
    """The as-of instants with a stored snapshot, oldest first."""
    folder = Path(root) / TABLE
    stamps = [pd.to_datetime(p.stem.removeprefix("as_of="), format=STAMP, utc=True)
              for p in folder.glob("as_of=*.parquet")] if folder.exists() else []
    return sorted(stamps)
