"""The LTV use case shared by `fenrun ltv evaluate`, the trainer and the benchmark.

`evaluate_ltv` builds the out-of-time split, chooses the LightGBM shape on an earlier fold, fits
it on the training window, fits both baselines at the evaluation cutoff and scores all of them on
the same customers. The choice of shape only ever looks at data before the cutoff. With the mall's
promotion calendar, the candidate's calendar level is estimated from orders paid by the cutoff
(the selection fold's from orders paid by its own cutoff).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import pandas as pd

from training.ltv.calendar import NO_CALENDAR, PromotionCalendar
from training.ltv.history import History
from training.ltv.metrics import HIGHER_IS_BETTER, evaluate
from training.ltv.model import (
    LtvModel,
    LtvParams,
    bgnbd_baseline,
    enough_for_boosting,
    fit_ltv,
    historical_average,
)
from training.ltv.seasonality import fit_seasonality
from training.ltv.split import (
    OutOfTimeSplit,
    labelled_window,
    out_of_time_split,
    stacked_windows,
)

log = logging.getLogger(__name__)
CANDIDATE = "candidate"
BGNBD = "bgnbd"
NAIVE = "historical_avg"
SELECTION_METRICS = ("gini", "decile_mape", "aggregate_error")


@dataclass
class LtvEvaluation:
    """A fitted candidate and how it and the baselines did on the evaluation window."""

    split: OutOfTimeSplit
    model: LtvModel
    predictions: pd.DataFrame  # customer_id, predicted, actual, bgnbd, historical_avg
    metrics: dict[str, dict[str, float]]
    selection: dict[str, dict[str, float]] = field(default_factory=dict)
    timings_s: dict[str, float] = field(default_factory=dict)


def _wins(scores: dict[str, dict[str, float]], a: str, b: str) -> int:
    """How many selection metrics `a` does strictly better on than `b`."""
    won = 0
    for name in SELECTION_METRICS:
        x, y = scores[a][name], scores[b][name]
        if np.isnan(x) or np.isnan(y):
            continue
        won += (x > y) if HIGHER_IS_BETTER[name] else (x < y)
    return won


def select_kind(history: History, train_cutoff: pd.Timestamp, horizon_days: int,
                params: LtvParams, seed: int, calendar: PromotionCalendar = NO_CALENDAR,
                ) -> tuple[str, dict[str, dict[str, float]]]:
    """Tweedie or hurdle, chosen on the fold one horizon earlier than the training window.

    Fold: fit at train_cutoff − h with labels up to train_cutoff, score at train_cutoff with labels
    up to train_cutoff + h (= the evaluation cutoff). Hurdle must win a majority of the selection
    metrics to be chosen; tweedie, one model instead of two, is the default.
    """
    step = pd.Timedelta(days=horizon_days)
    known = history.as_of(train_cutoff + step)
    first = known.orders["paid_at"].min()
    if pd.isna(first) or first > train_cutoff - step:
        return "tweedie", {}
    fold_train = stacked_windows(known.as_of(train_cutoff), train_cutoff - step, horizon_days,
                                 params.train_windows, params.window_step_days)
    fold_eval = labelled_window(known, train_cutoff, horizon_days)
    if not enough_for_boosting(fold_train.labels.to_numpy()):
        return "tweedie", {}
    # The fold's calendar level is estimated as of its own scoring cutoff, like everything else.
    seasonality = fit_seasonality(known.orders, calendar, train_cutoff)
    scores = {}
    for kind in ("tweedie", "hurdle"):
        model = fit_ltv(fold_train.frame, fold_train.labels.to_numpy(), horizon_days, kind,
                        params, seed, seasonality)
        scores[kind] = evaluate(fold_eval.labels.to_numpy(), model.predict(fold_eval.frame))
    chosen = "hurdle" if _wins(scores, "hurdle", "tweedie") >= 2 else "tweedie"
    return chosen, scores


def evaluate_ltv(history: History, cutoff: datetime | pd.Timestamp, horizon_days: int,
                 seed: int = 42, params: LtvParams | None = None,
                 kind: str | None = None,
                 calendar: PromotionCalendar = NO_CALENDAR) -> LtvEvaluation:
    """Fit on the window before `cutoff`, score candidate and baselines on the window after it.

    `calendar` (the mall's promotion dates, known in advance) lets the candidate forecast the
    calendar level of the evaluation window; its effects are estimated from orders paid by
    `cutoff`. The baselines never use it.
    """
    params = params or LtvParams()
    timings: dict[str, float] = {}
    started = time.perf_counter()
    split = out_of_time_split(history, cutoff, horizon_days, windows=params.train_windows,
                              step_days=params.window_step_days)
    timings["features_s"] = time.perf_counter() - started
    train, held = split.train, split.evaluation
    started = time.perf_counter()
    selection: dict[str, dict[str, float]] = {}
    if kind is None:
        if enough_for_boosting(train.labels.to_numpy()):
            kind, selection = select_kind(history.as_of(split.evaluation.cutoff),
                                          train.cutoff, horizon_days, params, seed, calendar)
        else:
            kind = "bgnbd"
            log.warning("only %d customers / %d buyers in the training window: BG/NBD fallback",
                        len(train.frame), int((train.labels > 0).sum()))
    timings["selection_s"] = time.perf_counter() - started
    started = time.perf_counter()
    seasonality = fit_seasonality(history.orders, calendar, split.evaluation.cutoff)
    model = fit_ltv(train.frame, train.labels.to_numpy(), horizon_days, kind, params, seed,
                    seasonality)
    timings["fit_s"] = time.perf_counter() - started
    started = time.perf_counter()
    actual = held.labels.to_numpy()
    predictions = pd.DataFrame({
        "customer_id": held.frame["customer_id"].to_numpy(),
        "predicted": model.predict(held.frame), "actual": actual,
        BGNBD: bgnbd_baseline(held.frame, horizon_days),
        NAIVE: historical_average(held.frame, horizon_days),
    })
    metrics = {f"{CANDIDATE} ({kind})": evaluate(actual, predictions["predicted"].to_numpy()),
               BGNBD: evaluate(actual, predictions[BGNBD].to_numpy()),
               NAIVE: evaluate(actual, predictions[NAIVE].to_numpy())}
    timings["predict_s"] = time.perf_counter() - started
    return LtvEvaluation(split, model, predictions, metrics, selection, timings)


def candidate_metrics(result: LtvEvaluation) -> dict[str, float]:
    """The candidate's row of the metrics table."""
    return next(v for k, v in result.metrics.items() if k.startswith(CANDIDATE))
