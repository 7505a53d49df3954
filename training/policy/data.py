"""Point-in-time features of each logged promoter-cycle, and of the decision after the history.

Nothing in a row reads its own cycle's outcome or any later one: the selling level is the mean of
earlier cycles only, and the lagged rates are the rates already served. The decision row for
cycle T (after the log ends) is built the same way, so training and serving see the same columns.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

STATIC = ["channel", "grade", "category", "n_children", "has_parent", "flagged", "margin_rate"]
DYNAMIC = ["tenure", "log_level", "zero_share", "active"]
RATES = ["rate", "prev_rate", "prev2_rate"]
FEATURES = STATIC + DYNAMIC + RATES
TARGETS = ["kept", "commissionable"]  # yuan


def training_frame(log: pd.DataFrame, observable: pd.DataFrame, plan_rate: float) -> pd.DataFrame:
    """One row per logged promoter-cycle with features, served arm, propensity and targets."""
    frame = log.sort_values(["promoter", "cycle"]).reset_index(drop=True)
    by = frame.groupby("promoter", sort=False)
    kept = frame["kept_minor"] / 100.0
    earlier_sum = by["kept_minor"].cumsum() / 100.0 - kept
    earlier_zero = (frame["kept_minor"] <= 0).astype(float).groupby(frame["promoter"]).cumsum() - (
        frame["kept_minor"] <= 0)
    seen = frame["cycle"].astype(float)
    level = np.where(seen > 0, earlier_sum / np.maximum(seen, 1), np.nan)
    out = frame[["promoter", "cycle", "arm", "propensity", "rate", "active"]].copy()
    out["prev_rate"] = by["rate"].shift(1).fillna(plan_rate).to_numpy()
    out["prev2_rate"] = by["rate"].shift(2).fillna(plan_rate).to_numpy()
    out["log_level"] = np.log1p(level)
    out["zero_share"] = np.where(seen > 0, earlier_zero / np.maximum(seen, 1), np.nan)
    out["kept"] = kept
    out["commissionable"] = frame["commissionable_minor"] / 100.0
    out["margin"] = frame["margin_minor"] / 100.0
    out["commission"] = (frame["commission_minor"] + frame["upline_minor"]) / 100.0
    out = out.merge(observable, on="promoter", how="left")
    out["tenure"] = out["tenure0"] + out["cycle"]
    out["active"] = out["active"].astype(np.int8)
    return out


def decision_frame(log: pd.DataFrame, observable: pd.DataFrame, active_now: np.ndarray,
                   cycles_after: int = 0) -> pd.DataFrame:
    """Features of every promoter at the first cycle after the log (`rate` columns left to fill)."""
    last_cycle = int(log["cycle"].max())
    per = log.groupby("promoter").agg(level=("kept_minor", "mean"),
                                      zero=("kept_minor", lambda s: float((s <= 0).mean())))
    ordered = log.sort_values(["promoter", "cycle"])
    last = ordered.groupby("promoter").tail(2)
    prev = last.groupby("promoter")["rate"].last()
    prev2 = last.groupby("promoter")["rate"].first()
    out = observable.copy()
    out["log_level"] = np.log1p(per["level"].reindex(out["promoter"]).to_numpy() / 100.0)
    out["zero_share"] = per["zero"].reindex(out["promoter"]).to_numpy()
    out["prev_rate"] = prev.reindex(out["promoter"]).to_numpy()
    out["prev2_rate"] = prev2.reindex(out["promoter"]).to_numpy()
    out["tenure"] = out["tenure0"] + last_cycle + 1 + cycles_after
    out["active"] = active_now.astype(np.int8)
    out["rate"] = out["prev_rate"]
    return out
