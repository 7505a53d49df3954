"""Proves temporal recalibration: the forecast is scaled by the out-of-time miss that the same
procedure made one horizon earlier, the backtest reads nothing after the cutoff, the ranking is
untouched, and one odd quarter cannot swing the level past the bounds."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from tests.training.ltv_fixtures import START, synthetic_history
from training.ltv.evaluation import (
    RECALIBRATION_BOUNDS,
    Backtest,
    backtest,
    evaluate_ltv,
    recalibration,
)
from training.ltv.model import LtvParams

# Big and long enough that the fold one horizon before the training window can be boosted.
HISTORY = synthetic_history(customers=6000, seed=5)
CUTOFF = START + pd.Timedelta(days=300)
HORIZON = 60
FAST = LtvParams(n_estimators=150, learning_rate=0.08)


@pytest.fixture(scope="module")
def plain_and_recalibrated():
    plain = evaluate_ltv(HISTORY, CUTOFF, HORIZON, params=replace(FAST, recalibrate=False),
                         kind="tweedie")
    recalibrated = evaluate_ltv(HISTORY, CUTOFF, HORIZON, params=FAST, kind="tweedie")
    return plain, recalibrated


def test_the_forecast_is_scaled_by_the_backtest_miss(plain_and_recalibrated) -> None:
    plain, recalibrated = plain_and_recalibrated
    fold = backtest(HISTORY, CUTOFF - pd.Timedelta(days=HORIZON), HORIZON, FAST, 42,
                    kinds=("tweedie",))
    assert fold is not None
    factor = recalibrated.model.recalibration
    assert factor == pytest.approx(fold.level["tweedie"], rel=1e-12)
    assert plain.model.recalibration == 1.0
    assert abs(factor - 1.0) > 1e-3  # the check below would pass trivially at 1
    np.testing.assert_allclose(recalibrated.predictions["predicted"],
                               plain.predictions["predicted"] * factor, rtol=1e-9)
    for name in ("gini", "spearman"):  # one factor: the ranking is the same
        assert (recalibrated.metrics["candidate (tweedie)"][name]
                == pytest.approx(plain.metrics["candidate (tweedie)"][name], rel=1e-12))


def test_the_backtest_reads_nothing_after_the_evaluation_cutoff() -> None:
    train_cutoff = CUTOFF - pd.Timedelta(days=HORIZON)
    full = backtest(HISTORY, train_cutoff, HORIZON, FAST, 42, kinds=("tweedie",))
    known = backtest(HISTORY.as_of(CUTOFF), train_cutoff, HORIZON, FAST, 42, kinds=("tweedie",))
    assert full is not None and known is not None
    assert full.level == known.level
    assert full.scores == known.scores


def test_a_history_too_short_for_a_backtest_is_not_recalibrated() -> None:
    young = evaluate_ltv(HISTORY, START + pd.Timedelta(days=200), HORIZON, params=FAST,
                         kind="tweedie")
    assert young.model.recalibration == 1.0


@pytest.mark.parametrize(("level", "expected"), [
    ({"tweedie": 1.08}, 1.08),
    ({"tweedie": 5.0}, RECALIBRATION_BOUNDS[1]),
    ({"tweedie": 0.1}, RECALIBRATION_BOUNDS[0]),
    ({"tweedie": math.nan}, 1.0),
    ({"hurdle": 1.2}, 1.0),  # no backtest of the chosen shape: leave the level alone
])
def test_recalibration_is_bounded_and_defaults_to_one(level, expected) -> None:
    assert recalibration(Backtest({}, level), "tweedie") == pytest.approx(expected)
    assert recalibration(None, "tweedie") == 1.0
