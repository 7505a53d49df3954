"""Anomaly flagging with the champion detector: score every profiled promoter, flag the review
budget, and say for each flagged promoter where it is most unusual.

The forest does not say why it isolated a point; the reasons (the features furthest from the
population median in robust sd, `features.outliers.reasons`) are where a reviewer looks first.
The budget rule and the score's sign are `features.outliers`, the same ones training evaluates a
candidate with.
"""

from __future__ import annotations

import pandas as pd

from features.outliers import Detector, anomaly_scores, rank_and_flag, reasons

ANOMALY_MODEL = "anomaly"
ALERT_SHARE = 0.05  # share of promoters the risk team can review


def flag(model: Detector, profiles: pd.DataFrame, alert_share: float = ALERT_SHARE
         ) -> pd.DataFrame:
    """Score every promoter of `profiles` with a loaded detector (the champion's `model`) and
    flag the top `alert_share` (at least one; `ValueError` outside (0, 1]).

    Returns promoter_id, score (higher = more anomalous), rank (1 = most anomalous), flagged,
    and `reasons` (flagged promoters only), e.g. "own_device_order_share 0.93 (median 0,
    +12.1 sd)".
    """
    features = profiles[list(model.feature_names_in_)]
    scores = anomaly_scores(model, profiles)
    rank, flagged = rank_and_flag(scores, alert_share)
    return pd.DataFrame({"promoter_id": profiles["promoter_id"].to_numpy(), "score": scores,
                         "rank": rank, "flagged": flagged,
                         "reasons": reasons(features, flagged)})
