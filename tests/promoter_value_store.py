"""A promoter value snapshot store for the serving, dashboard and browser tests.

The customers are typed by hand so every figure is known: `P-LOSS` brought 40 customers worth
half of what they cost (a poster promoter, in a channel that loses overall), `P-STAR` 30 worth ten
times their cost, `P-NEW` one customer. Each forecast carries 0.4 fen, which the production code
rounds away per customer. The tables are computed by the production code
(`training.ltv.promoter_value`) and stored the way `fenrun ltv promoters` stores them.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from features.profiles.store import CHANNEL_VALUE_TABLE, PROMOTER_VALUE_TABLE, write_snapshot
from serving.config import ServingSettings
from training.ltv.promoter_value import promoter_value, snapshot_frames

AS_OF = pd.Timestamp("2026-04-01T00:00:00Z")
EARLIER = pd.Timestamp("2026-03-01T00:00:00Z")
# promoter -> (channel, customers, realised, predicted, cac) per customer, in fen
PROMOTERS = {
    "P-LOSS": ("qr_poster", 40, 3_000, 2_000, 10_000),
    "P-MEH": ("qr_poster", 20, 5_000, 3_000, 10_000),
    "P-STAR": ("wechat_chat", 30, 60_000, 40_000, 10_000),
    "P-OK": ("wechat_chat", 25, 20_000, 10_000, 10_000),
    "P-NEW": ("wechat_chat", 1, 1_000, 1_000, 10_000),
}
SEGMENTS = {"P-LOSS": (2, "low-GMV novices"), "P-MEH": (2, "low-GMV novices"),
            "P-STAR": (1, "high-GMV veterans"), "P-OK": (1, "high-GMV veterans")}  # P-NEW: none


def value_customers() -> pd.DataFrame:
    rows = []
    for promoter, (channel, n, realised, predicted, cac) in PROMOTERS.items():
        for i in range(n):
            rows.append({"customer_id": f"{promoter}-c{i}", "promoter_id": promoter,
                         "channel": channel, "realised_minor": float(realised),
                         "predicted_minor": predicted + 0.4, "ltv_minor": realised + predicted
                         + 0.4, "cac_minor": float(cac), "commission_later_minor": 100.0})
    return pd.DataFrame(rows)


def segments_frame() -> pd.DataFrame:
    return pd.DataFrame([{"promoter_id": p, "segment_id": i, "segment_name": name}
                         for p, (i, name) in SEGMENTS.items()])


def write_value_snapshot(root: Path, as_of: pd.Timestamp = AS_OF,
                         segments: bool = True) -> None:
    value = promoter_value(value_customers(), replicates=200, seed=1)
    promoters, channels = snapshot_frames(value, as_of, 90, "CNY",
                                          segments_frame() if segments else None)
    write_snapshot(promoters, root, PROMOTER_VALUE_TABLE)
    write_snapshot(channels, root, CHANNEL_VALUE_TABLE)


def build_value_store(root: Path) -> ServingSettings:
    """Two snapshots (the newer one with segments) under `root`; settings that read them."""
    write_value_snapshot(root, EARLIER, segments=False)
    write_value_snapshot(root, AS_OF)
    return ServingSettings(feature_store_dir=str(root),
                           mlflow_tracking_uri=f"sqlite:///{root}/mlflow.db")
