"""An anomaly flag snapshot typed by hand, stored the way `fenrun risk flag` stores it.

Six promoters, four flagged: R1 (most anomalous, 500.00 unpaid), R2 (nothing unpaid: already
paid out), R3 (owes a claw-back: unpaid negative), R4 (1,200.00 unpaid); R5 and R6 not flagged.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from features.profiles.store import ANOMALY_FLAGS_TABLE, write_snapshot
from serving.config import ServingSettings

AS_OF = pd.Timestamp("2026-04-01T00:00:00Z")
ROWS = [  # promoter, score, rank, flagged, pending, available, paid, clawback, reasons
    ("R1", 0.80, 1, True, 20_000, 30_000, 0, 0, "touches_90d 107 (median 1, +71.5 sd)"),
    ("R2", 0.75, 2, True, 0, 0, 90_000, 0, "refund_rate 1 (median 0, +9.9 sd)"),
    ("R3", 0.70, 3, True, 0, -5_000, 10_000, 5_000, "own_device_order_share 0.9 (median 0, +8 sd)"),
    ("R4", 0.66, 4, True, 100_000, 20_000, 0, 0, "max_orders_1h_90d 34 (median 0, +16.1 sd)"),
    ("R5", 0.40, 5, False, 50_000, 0, 0, 0, ""),
    ("R6", 0.30, 6, False, 0, 0, 0, 0, ""),
]


def write_flags(root: Path, as_of: pd.Timestamp = AS_OF) -> ServingSettings:
    frame = pd.DataFrame(ROWS, columns=["promoter_id", "score", "rank", "flagged",
                                        "pending_minor", "available_minor", "paid_minor",
                                        "clawback_minor", "reasons"])
    frame["unpaid_minor"] = frame["pending_minor"] + frame["available_minor"]
    frame.insert(0, "as_of", as_of)
    frame.insert(1, "currency", "CNY")
    frame.insert(2, "model_version", "3")
    write_snapshot(frame, root, ANOMALY_FLAGS_TABLE)
    return ServingSettings(feature_store_dir=str(root),
                           mlflow_tracking_uri=f"sqlite:///{root}/mlflow.db")
