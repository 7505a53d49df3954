"""A promoter value snapshot store for the serving, dashboard and browser tests.

The customers are typed by hand so every figure is known. On GMV `P-LOSS` brought 40 customers
worth half of what they cost (a poster promoter, in a channel that loses overall), `P-STAR` 30
worth ten times their cost, `P-NEW` one customer. Each forecast carries 0.4 fen, which the
production code rounds away per customer.

On the margin basis every customer is at a 25 % gross margin, paid 1.00 of commission on later
orders, and has a contribution rate of 1/5 on predicted revenue (25 % margin − 5 % commission), so
per customer contribution LTV = realised / 4 − 100 + predicted / 5 (fen):
P-LOSS 750 − 100 + 400 = 1,050 (LTV/CAC 0.105), P-MEH 1,250 − 100 + 600 = 1,750 (0.175),
P-STAR 15,000 − 100 + 8,000 = 22,900 (2.29), P-OK 5,000 − 100 + 2,000 = 6,900 (0.69: three times
its cost on GMV, losing on contribution), P-NEW 250 − 100 + 200 = 350 (0.035, one customer).

The newest snapshot is computed by the production code (`training.ltv.promoter_value`) and stored
the way `fenrun ltv promoters` stores it; the earlier one is stored as the code before the margin
basis wrote it (GMV only: `realised_minor`, `predicted_minor`, `ltv_minor`, no `basis`).
"""

from __future__ import annotations

from fractions import Fraction
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
CONTRIBUTION_RATE = Fraction(1, 5)
SEGMENTS = {"P-LOSS": (2, "low-GMV novices"), "P-MEH": (2, "low-GMV novices"),
            "P-STAR": (1, "high-GMV veterans"), "P-OK": (1, "high-GMV veterans")}  # P-NEW: none


def value_customers() -> pd.DataFrame:
    rows = []
    for promoter, (channel, n, realised, predicted, cac) in PROMOTERS.items():
        for i in range(n):
            rows.append({"customer_id": f"{promoter}-c{i}", "promoter_id": promoter,
                         "channel": channel, "gmv_realised_minor": float(realised),
                         "gmv_predicted_minor": predicted + 0.4, "cac_minor": float(cac),
                         "commission_later_minor": 100.0,
                         "contribution_realised_minor": realised // 4 - 100,
                         "contribution_rate": CONTRIBUTION_RATE})
    return pd.DataFrame(rows)


def contribution_ltv(promoter: str) -> int:
    """Σ contribution LTV of the promoter's customers, by the rule in the module doc."""
    _, n, realised, predicted, _ = PROMOTERS[promoter]
    return n * (realised // 4 - 100 + predicted // 5)


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


LEGACY_COLUMNS = {"gmv_realised_minor": "realised_minor",
                  "gmv_predicted_minor": "predicted_minor", "gmv_ltv_minor": "ltv_minor"}


def _legacy(frame: pd.DataFrame) -> pd.DataFrame:
    """A table as the GMV-only code stored it: its columns, in its order, none of the new ones."""
    out = frame.drop(columns=["basis", "gmv_ltv_cac", "contribution_realised_minor",
                              "contribution_predicted_minor", "contribution_ltv_minor"])
    return out.rename(columns=LEGACY_COLUMNS)


def write_gmv_only_snapshot(root: Path, as_of: pd.Timestamp = EARLIER) -> None:
    """The snapshot the code before the margin basis wrote: value = GMV. Computed here by giving
    every customer a contribution equal to its GMV (margin 100 %, no commission), which makes
    the margin-basis ratios and bands exactly the GMV ones that code computed."""
    customers = value_customers().assign(
        contribution_realised_minor=lambda f: f["gmv_realised_minor"].astype("int64"),
        contribution_rate=Fraction(1))
    value = promoter_value(customers, replicates=200, seed=1)
    promoters, channels = snapshot_frames(value, as_of, 90, "CNY", None)
    write_snapshot(_legacy(promoters), root, PROMOTER_VALUE_TABLE)
    write_snapshot(_legacy(channels), root, CHANNEL_VALUE_TABLE)


def build_value_store(root: Path) -> ServingSettings:
    """Two snapshots under `root`: a GMV-only one written by the older code (EARLIER, no
    segments) and a margin-basis one with segments (AS_OF); settings that read them."""
    write_gmv_only_snapshot(root, EARLIER)
    write_value_snapshot(root, AS_OF)
    return ServingSettings(feature_store_dir=str(root),
                           mlflow_tracking_uri=f"sqlite:///{root}/mlflow.db")
