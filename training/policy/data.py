"""Point-in-time features of each logged promoter-cycle, and of the decision after the history.

Nothing in a row reads its own cycle's outcome or any later one: the selling level is the mean of
earlier clean cycles only (plan rate, after a plan-rate cycle: an explored cycle's outcome in the
level would hide its own carry-over from the response model), and the lagged rates are the rates
already served. The decision row for cycle T (after the log ends) is built the same way, so
training and serving see the same columns.
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
    prev_rate = by["rate"].shift(1).fillna(plan_rate)
    clean = _clean(frame["rate"], prev_rate, plan_rate)
    earlier_sum = (kept * clean).groupby(frame["promoter"]).cumsum() - kept * clean
    zero = (frame["kept_minor"] <= 0).astype(float) * clean
    earlier_zero = zero.groupby(frame["promoter"]).cumsum() - zero
    seen = clean.groupby(frame["promoter"]).cumsum() - clean
    level = np.where(seen > 0, earlier_sum / np.maximum(seen, 1), np.nan)
    out = frame[["promoter", "cycle", "arm", "propensity", "rate", "active"]].copy()
    out["prev_rate"] = prev_rate.to_numpy()
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


def _clean(rate: pd.Series, prev_rate: pd.Series, plan_rate: float) -> pd.Series:
    """1.0 for a cycle served the plan rate after a plan-rate cycle: no exploration in it, and
    none carried over from the cycle before, so its sales measure the promoter's plan level."""
    flags = np.isclose(rate, plan_rate) & np.isclose(prev_rate, plan_rate)
    return pd.Series(flags.astype(float), index=rate.index)


def decision_frame(log: pd.DataFrame, observable: pd.DataFrame, active_now: np.ndarray,
                   cycles_after: int = 0) -> pd.DataFrame:
    """Features of every promoter at the first cycle after the log (`rate` columns left to fill)."""
    last_cycle = int(log["cycle"].max())
    plan_rate = float(log["rate"].mode().iloc[0])
    ordered = log.sort_values(["promoter", "cycle"])
    clean = _clean(ordered["rate"], ordered.groupby("promoter")["rate"].shift(1)
                   .fillna(plan_rate), plan_rate)
    kept = ordered["kept_minor"] * clean
    per = pd.DataFrame({"kept": kept, "zero": (ordered["kept_minor"] <= 0) * clean,
                        "clean": clean, "promoter": ordered["promoter"]}).groupby("promoter").sum()
    per["level"] = per["kept"] / per["clean"].where(per["clean"] > 0)
    per["zero"] = per["zero"] / per["clean"].where(per["clean"] > 0)
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
