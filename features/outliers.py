"""Outlier arithmetic shared by the anomaly detector's training and its serving: the score's sign,
the review budget, and the reasons a reviewer reads.

Why here: `training` judges a candidate detector by who lands inside the review budget and
`serving` flags the same budget on the champion; the two may not import each other, so the rule
"top `alert_share` of the scores, at least one" lives once, below both. Pure functions of arrays
and frames: no model library is imported (a detector is anything with `score_samples`).
"""

from __future__ import annotations

import math
from typing import Protocol

import numpy as np
import pandas as pd

REASONS = 3  # features named per flagged promoter
MAD_TO_SD = 1.4826  # the median absolute deviation of a normal sample, scaled to its sd


class Detector(Protocol):
    """A fitted detector whose `score_samples` is lower for more unusual rows (IsolationForest)."""

    feature_names_in_: np.ndarray

    def score_samples(self, X: pd.DataFrame) -> np.ndarray: ...  # noqa: N803 - sklearn's name


def anomaly_scores(model: Detector, frame: pd.DataFrame) -> np.ndarray:
    """Higher = more anomalous (the negated `score_samples`), on the model's own columns."""
    return -np.asarray(model.score_samples(frame[list(model.feature_names_in_)]))


def review_budget(rows: int, alert_share: float) -> int:
    """How many rows a review budget of `alert_share` covers: ceil(share · rows), at least one
    when there is any row; `ValueError` naming the share outside (0, 1]."""
    if not 0 < alert_share <= 1:
        raise ValueError(f"alert_share: {alert_share} must be in (0, 1]")
    return max(1, math.ceil(alert_share * rows)) if rows else 0


def rank_and_flag(scores: np.ndarray, alert_share: float) -> tuple[np.ndarray, np.ndarray]:
    """(rank, flagged): rank 1 = highest score (ties keep row order); flagged = in the budget."""
    order = np.argsort(-scores, kind="stable")
    rank = np.empty(len(scores), dtype=np.int64)
    rank[order] = np.arange(1, len(scores) + 1)
    return rank, rank <= review_budget(len(scores), alert_share)


def robust_z(features: pd.DataFrame) -> pd.DataFrame:
    """(x - median) / (1.4826 · MAD) per column; a column with no spread in the median half
    falls back to its standard deviation, and a constant one to 0 (it explains nothing)."""
    values = features.astype("float64")
    median = values.median()
    spread = (values - median).abs().median() * MAD_TO_SD
    spread = spread.where(spread > 0, values.std(ddof=0))
    z = (values - median) / spread.where(spread > 0)
    return z.fillna(0.0)


def reasons(features: pd.DataFrame, rows: np.ndarray, count: int = REASONS) -> list[str]:
    """Per row of `features`, the `count` columns furthest from the population median in robust
    sd, e.g. "own_device_order_share 0.93 (median 0, +12.1 sd)"; written only for the rows
    where `rows` is True (the ones a reviewer reads), "" elsewhere."""
    names = list(features.columns)
    z = robust_z(features).to_numpy()
    values = features.to_numpy(dtype=np.float64)
    median = features.median().to_numpy()
    furthest = np.argsort(-np.abs(z), axis=1, kind="stable")[:, :count]
    out = [""] * len(features)
    for i in np.flatnonzero(rows):
        out[i] = "; ".join(
            f"{names[j]} {values[i, j]:.4g} (median {median[j]:.4g}, {z[i, j]:+.1f} sd)"
            for j in furthest[i] if z[i, j] != 0)
    return out
