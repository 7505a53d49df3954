"""How long a label window the history allows: the plan of one LTV evaluation or training.

A forecast of h days from the supervised model needs one labelled window of h days before the
cutoff (features at cutoff − h, labels up to the cutoff) with some history behind its features.
A young mall, or a new user's books, has less. The plan takes the first method the history
allows, never an error while there is at least one order before the cutoff:

- `standard`: label window w = h, with MIN_FEATURE_DAYS of history before the training cutoff.
- `carried`: the supervised model is fitted on the longest label window w < h (w ≥
  MIN_LABEL_DAYS) that leaves MIN_FEATURE_DAYS of history before its feature cutoff and, when
  some w does, MIN_CUSTOMERS_FOR_GBM customers there. Its w-day forecast is carried to h per
  customer by BG/NBD: × E[purchases in h] / E[purchases in w] (`model.carry_factor`). The
  booster carries the level and the ranking it learned from labels; the probabilistic model,
  fitted without labels at the scoring cutoff, carries the shape of the longer window (between
  1 and h/w: frequent buyers, with more chances to drop out, are carried by less).
- `bgnbd`: BG/NBD + Gamma-Gamma alone, fitted without labels at the scoring cutoff, predicting h
  directly; when even a MIN_LABEL_DAYS window does not fit.

`fenrun ltv evaluate` names its cutoff and scores the h days after it (they must be in the books).
Training without a cutoff must also score on a complete holdout before the gate can judge: with a
short history that holdout is the last w days, so the gate judges the w-day forecast, and the
registered model carries it to h (its model card says so). The BG/NBD-alone plan of training needs
MIN_FEATURE_DAYS + MIN_LABEL_DAYS of books; below that training stops with a message saying so.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from training.ltv.history import History
from training.ltv.model import MIN_CUSTOMERS_FOR_GBM
from training.ltv.split import InsufficientHistory

STANDARD, CARRIED, BGNBD_ALONE = "standard", "carried", "bgnbd"
# Features need a few weeks behind them (a weekly cycle, a first repeat purchase) to say anything.
MIN_FEATURE_DAYS = 28
# A shorter label window holds too few repeat purchases to learn from or to judge a model on.
MIN_LABEL_DAYS = 14
DAY = pd.Timedelta(days=1)


@dataclass(frozen=True)
class WindowPlan:
    """Which windows one evaluation or training uses, and why.

    cutoff: features of the scored customers; horizon_days: h, what the forecast is for;
    label_days: w, the training window's labels (0 for BG/NBD alone, which needs none);
    holdout_days: the scored window after the cutoff (h, or w when training on a short history).
    """

    method: str
    cutoff: pd.Timestamp
    horizon_days: int
    label_days: int
    holdout_days: int
    reason: str

    def describe(self) -> str:
        """One line for the CLI, the run's params and the model card."""
        h, w = self.horizon_days, self.label_days
        if self.method == STANDARD:
            return f"standard: supervised model on a {h}-day label window ({self.reason})"
        if self.method == CARRIED:
            return (f"carried: supervised model on a {w}-day label window, carried to {h} days "
                    f"by the BG/NBD ratio E[purchases in {h} d] / E[purchases in {w} d] per "
                    f"customer ({self.reason})")
        return f"bgnbd: BG/NBD + Gamma-Gamma alone, fitted without labels ({self.reason})"


def _first_orders(history: History) -> np.ndarray:
    """Each customer's first order instant (ns since the epoch), sorted."""
    first = history.orders.groupby("customer_id")["paid_at"].min()
    return np.sort(first.to_numpy(dtype="datetime64[ns]").astype("int64"))


def _customers_by(firsts: np.ndarray, at: pd.Timestamp) -> int:
    return int(np.searchsorted(firsts, at.as_unit("ns").value, side="right"))


def _longest_window(firsts: np.ndarray, feature_cutoff_of, longest: int) -> int:
    """The longest w in [MIN_LABEL_DAYS, longest] whose feature cutoff has enough customers for
    boosting; `longest` when none has (boosting then falls back to BG/NBD by its own rule)."""
    for w in range(longest, MIN_LABEL_DAYS - 1, -1):
        if _customers_by(firsts, feature_cutoff_of(w)) >= MIN_CUSTOMERS_FOR_GBM:
            return w
    return longest


def _days(span: pd.Timedelta) -> int:
    return int(span // DAY)


def plan_evaluation(history: History, cutoff: pd.Timestamp, horizon_days: int) -> WindowPlan:
    """The plan for scoring the h days after a given cutoff (their labels must be in the books)."""
    cutoff = pd.Timestamp(cutoff)
    if horizon_days < 1:
        raise InsufficientHistory(f"horizon_days: {horizon_days} must be at least 1")
    first = history.orders["paid_at"].min()
    if pd.isna(first) or first > cutoff:
        raise InsufficientHistory(
            f"cutoff: {cutoff.isoformat()} is before the first order ({first}): there is no "
            "customer to forecast; pick a later cutoff")
    before = _days(cutoff - first)
    if before >= horizon_days + MIN_FEATURE_DAYS:
        return WindowPlan(STANDARD, cutoff, horizon_days, horizon_days, horizon_days,
                          f"{before} days of history before the cutoff")
    longest = before - MIN_FEATURE_DAYS
    if longest >= MIN_LABEL_DAYS:
        w = _longest_window(_first_orders(history), lambda d: cutoff - d * DAY, longest)
        return WindowPlan(CARRIED, cutoff, horizon_days, w, horizon_days,
                          f"{before} days of history before the cutoff hold no {horizon_days}-day "
                          f"window with {MIN_FEATURE_DAYS} days of features before it")
    return WindowPlan(BGNBD_ALONE, cutoff, horizon_days, 0, horizon_days,
                      f"{before} days of history before the cutoff hold no "
                      f"{MIN_LABEL_DAYS}-day label window with {MIN_FEATURE_DAYS} days of "
                      "features before it")


def books_end(history: History) -> pd.Timestamp:
    """The midnight (UTC) after the last recorded event: the end of the latest complete day."""
    last = history.last_at
    if last is None:
        raise InsufficientHistory("the order history is empty: nothing to train on")
    return (last + pd.Timedelta(seconds=1)).ceil("D")


def plan_training(history: History, horizon_days: int) -> WindowPlan:
    """The plan for training without a cutoff: the latest complete holdout before the books end."""
    end = books_end(history)
    span = _days(end - history.orders["paid_at"].min())
    if span >= 2 * horizon_days + MIN_FEATURE_DAYS:
        return plan_evaluation(history, end - horizon_days * DAY, horizon_days)
    longest = min(horizon_days - 1, (span - MIN_FEATURE_DAYS) // 2)
    if longest >= MIN_LABEL_DAYS:
        w = _longest_window(_first_orders(history), lambda d: end - 2 * d * DAY, longest)
        return WindowPlan(CARRIED, end - w * DAY, horizon_days, w, w,
                          f"the books span {span} days, too few for two {horizon_days}-day "
                          f"windows with {MIN_FEATURE_DAYS} days of features: trained and "
                          f"judged on {w}-day windows")
    holdout = min(horizon_days, span - MIN_FEATURE_DAYS)
    if holdout >= MIN_LABEL_DAYS:
        return WindowPlan(BGNBD_ALONE, end - holdout * DAY, horizon_days, 0, holdout,
                          f"the books span {span} days, too few for two {MIN_LABEL_DAYS}-day "
                          f"windows with {MIN_FEATURE_DAYS} days of features: judged on the "
                          f"last {holdout} days")
    raise InsufficientHistory(
        f"the books span {span} days: LTV training needs at least "
        f"{MIN_FEATURE_DAYS + MIN_LABEL_DAYS} ({MIN_FEATURE_DAYS} days of features and a "
        f"{MIN_LABEL_DAYS}-day holdout to judge the model on); "
        "`fenrun ltv promoters --no-use-champion` forecasts with BG/NBD meanwhile")
