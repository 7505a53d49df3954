"""Ground-truth fraud labels for evaluating detectors (the simulator's `labels.csv`, or a mall's
own investigation outcomes in the same shape: `entity_type,entity_id,fraud_type`)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

CLEAN = "none"


def load_promoter_labels(path: str | Path) -> pd.Series:
    """`fraud_type` per promoter id (`none` when clean); other entity types are ignored."""
    frame = pd.read_csv(path, dtype=str)
    missing = {"entity_type", "entity_id", "fraud_type"} - set(frame.columns)
    if missing:
        raise ValueError(f"{path}: missing column(s) {sorted(missing)}")
    promoters = frame.loc[frame["entity_type"] == "promoter"].drop_duplicates("entity_id")
    return promoters.set_index("entity_id")["fraud_type"].rename("fraud_type")
