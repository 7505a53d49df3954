"""Out-of-time split for customer value: train on earlier windows, evaluate on the cutoff's.

    train features: history as of (cutoff − h)   train labels: revenue in (cutoff − h, cutoff]
    eval  features: history as of cutoff         eval  labels: revenue in (cutoff, cutoff + h]

The training set stacks that window with earlier ones (cutoffs every `step_days` before it, all
labels still ending by the cutoff). Why: one window teaches the model the spending level of one
season, and a window without a promotion peak then under-forecasts one with it; stacked windows
average the level over the year the way BG/NBD's stationary rates do, and give more rows.

Everything the trainer sees (train features, train labels) is computed from `history.as_of(cutoff)`
and nothing else, so no customer's future after the cutoff can reach the model; the evaluation
labels are the only thing read from after the cutoff. The customer base of each window is every
customer with an order paid by its feature cutoff (LTV of existing customers; a customer who first
buys inside a window is not predicted, having no row at the feature cutoff).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pandas as pd

from training.ltv.features import customer_features, window_labels
from training.ltv.history import History
from training.trainers import CannotTrain


class InsufficientHistory(CannotTrain):
    """The requested windows fall outside the recorded history."""


@dataclass(frozen=True)
class Window:
    """Customer features at `cutoff` with `actual_minor` = net revenue in (cutoff, cutoff + h]."""

    cutoff: pd.Timestamp
    horizon_days: int
    frame: pd.DataFrame

    @property
    def labels(self) -> pd.Series:
        return self.frame["actual_minor"]


@dataclass(frozen=True)
class OutOfTimeSplit:
    train: Window
    evaluation: Window


def labelled_window(known: History, cutoff: pd.Timestamp, horizon_days: int) -> Window:
    """Features at `cutoff` joined to the next horizon's revenue, all from `known`.

    `known` must reach cutoff + horizon; the caller passes a history cut there, which is what keeps
    a training window from reading past the training cutoff.
    """
    end = cutoff + pd.Timedelta(days=horizon_days)
    features = customer_features(known, cutoff)
    labels = window_labels(known.as_of(end), cutoff, end)
    frame = features.merge(labels, on="customer_id", how="left")
    frame["actual_minor"] = frame["actual_minor"].fillna(0).astype("float64")
    return Window(cutoff, horizon_days, frame)


def stacked_windows(known: History, last_cutoff: pd.Timestamp, horizon_days: int,
                    windows: int, step_days: int, min_history_days: int = 30) -> Window:
    """Labelled windows at last_cutoff, last_cutoff − step, ... (oldest first), from `known`.

    A cutoff is used only if the history started `min_history_days` before it. The result's
    `cutoff` is the latest one; rows keep their own `as_of`.
    """
    first = known.orders["paid_at"].min()
    frames = []
    for i in range(max(windows, 1)):
        cutoff = last_cutoff - pd.Timedelta(days=i * step_days)
        if i > 0 and (pd.isna(first) or cutoff < first + pd.Timedelta(days=min_history_days)):
            break
        frames.append(labelled_window(known, cutoff, horizon_days).frame)
    frame = pd.concat(frames[::-1], ignore_index=True)
    return Window(last_cutoff, horizon_days, frame)


def _check_complete(history: History, cutoff: pd.Timestamp, holdout_days: int) -> None:
    last = history.last_at
    end = cutoff + pd.Timedelta(days=holdout_days)
    if last is None or last < end - pd.Timedelta(days=1):
        raise InsufficientHistory(
            f"cutoff + horizon: {end.isoformat()} is after the last recorded event "
            f"{last}; the evaluation labels would be incomplete")


def out_of_time_split(history: History, cutoff: datetime | pd.Timestamp,
                      horizon_days: int, require_complete: bool = True, windows: int = 1,
                      step_days: int = 30, label_days: int | None = None) -> OutOfTimeSplit:
    """The training window ending at `cutoff` and the evaluation window starting there.

    The training window's labels span `label_days` (default: the horizon); a young history uses
    a shorter one and carries the forecast to the horizon (`training.ltv.windows`).
    """
    cutoff = pd.Timestamp(cutoff)
    if horizon_days < 1:
        raise InsufficientHistory(f"horizon_days: {horizon_days} must be at least 1")
    label_days = label_days or horizon_days
    start = history.orders["paid_at"].min()
    train_cutoff = cutoff - pd.Timedelta(days=label_days)
    if pd.isna(start) or start > train_cutoff:
        raise InsufficientHistory(
            f"cutoff: {cutoff.isoformat()} leaves no order before the training cutoff "
            f"{train_cutoff.isoformat()} (first order {start}); pick a later cutoff or a shorter "
            "horizon")
    if require_complete:
        _check_complete(history, cutoff, horizon_days)
    end = cutoff + pd.Timedelta(days=horizon_days)
    train = stacked_windows(history.as_of(cutoff), train_cutoff, label_days, windows,
                            step_days)
    evaluation = labelled_window(history.as_of(end), cutoff, horizon_days)
    return OutOfTimeSplit(train, evaluation)


def unlabelled_split(history: History, cutoff: datetime | pd.Timestamp,
                     holdout_days: int) -> OutOfTimeSplit:
    """For BG/NBD alone, which learns without labels: the "training" window is the customers'
    features at the cutoff itself (`actual_minor` NaN: no label is read), the evaluation window
    the holdout after it."""
    cutoff = pd.Timestamp(cutoff)
    _check_complete(history, cutoff, holdout_days)
    end = cutoff + pd.Timedelta(days=holdout_days)
    evaluation = labelled_window(history.as_of(end), cutoff, holdout_days)
    frame = evaluation.frame.assign(actual_minor=np.nan)
    return OutOfTimeSplit(Window(cutoff, 0, frame), evaluation)
