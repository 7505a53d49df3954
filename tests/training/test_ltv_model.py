"""Proves the LTV trainer is reproducible (same data + seed -> same predictions and metrics), beats
both baselines out of time on a mall whose future depends on promoter activity, and that promoter
LTV/CAC bands narrow as a promoter accumulates customers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tests.training.ltv_fixtures import synthetic_history
from training.ltv.evaluation import BGNBD, NAIVE, candidate_metrics, evaluate_ltv
from training.ltv.metrics import beats
from training.ltv.model import LtvParams, fit_ltv, historical_average
from training.ltv.promoter_value import customer_value, promoter_value

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


def test_promoter_bands_narrow_as_customers_accumulate(history) -> None:
    value = promoter_value(customer_value(history, CUTOFF, 90), replicates=100)
    p = value.promoters.assign(width=lambda f: f["ltv_cac_high"] - f["ltv_cac_low"])
    few, many = p[p["customers"] <= 3], p[p["customers"] >= 30]
    assert len(few) and len(many)
    assert few["width"].median() > 2 * many["width"].median()
    inside = (p["ltv_cac_low"] <= p["ltv_cac_shrunk"]) & (p["ltv_cac_shrunk"] <= p["ltv_cac_high"])
    assert inside.mean() > 0.9
    assert set(value.channels["channel"]) == set(value.customers["channel"])
