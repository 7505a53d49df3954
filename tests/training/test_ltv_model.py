"""Proves the LTV trainer is reproducible (same data + seed -> same predictions and metrics) and,
on a mall whose future depends on promoter activity, beats both baselines out of time."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tests.training.ltv_fixtures import synthetic_history
from training.ltv.evaluation import BGNBD, NAIVE, candidate_metrics, evaluate_ltv
from training.ltv.metrics import beats
from training.ltv.model import LtvParams, fit_ltv, historical_average

CUTOFF = pd.Timestamp("2026-09-01T00:00Z")
FAST = LtvParams(n_estimators=150, learning_rate=0.08)


@pytest.fixture(scope="module")
def history():
    return synthetic_history()


def test_same_data_and_seed_give_the_same_metrics(history) -> None:
    first = evaluate_ltv(history, CUTOFF, 90, seed=7, params=FAST, kind="hurdle")
    second = evaluate_ltv(history, CUTOFF, 90, seed=7, params=FAST, kind="hurdle")
    np.testing.assert_array_equal(first.predictions["predicted"], second.predictions["predicted"])
    assert first.metrics == second.metrics


def test_candidate_beats_both_baselines_out_of_time(history) -> None:
    result = evaluate_ltv(history, CUTOFF, 90, params=FAST, kind="tweedie")
    candidate = candidate_metrics(result)
    assert beats(candidate, result.metrics[BGNBD])
    assert beats(candidate, result.metrics[NAIVE])


def test_balance_restores_the_training_total(history) -> None:
    result = evaluate_ltv(history, CUTOFF, 90, params=FAST, kind="tweedie")
    train = result.split.train
    assert result.model.predict(train.frame).sum() == pytest.approx(train.labels.sum(), rel=1e-6)


def test_unknown_category_levels_do_not_break_prediction(history) -> None:
    result = evaluate_ltv(history, CUTOFF, 90, params=FAST, kind="tweedie")
    frame = result.split.evaluation.frame.head(20).copy()
    frame["main_category"] = "never-seen"
    assert np.isfinite(result.model.predict(frame)).all()


def test_historical_average_and_kind_validation(history) -> None:
    features = pd.DataFrame({"tenure_days": [10.0, 180.0], "net_total_minor": [900.0, 1800.0]})
    assert historical_average(features, 90).tolist() == [900.0, 900.0]
    with pytest.raises(ValueError, match="kind"):
        fit_ltv(features, np.zeros(2), 90, "forest")
