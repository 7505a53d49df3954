"""Proves the LTV metrics on tiny hand-computed examples, including the degenerate cases."""

from __future__ import annotations

import math

import numpy as np
import pytest

from training.ltv.metrics import (
    aggregate_error,
    beats,
    decile_mape,
    evaluate,
    format_table,
    normalized_gini,
    spearman,
)


def test_gini_of_perfect_ranking_is_one_and_reversed_is_negative() -> None:
    actual = np.array([0.0, 0, 1, 2, 5, 10])
    assert normalized_gini(actual, actual) == pytest.approx(1.0)
    assert normalized_gini(actual, actual * 3 + 1) == pytest.approx(1.0)  # scale-free
    assert normalized_gini(actual, -actual) < 0


def test_gini_hand_computed() -> None:
    # Sorted by prediction: actual [0, 1, 3] -> cumulative shares 0, .25, 1; minus 1/3, 2/3, 1.
    actual, predicted = np.array([1.0, 3.0, 0.0]), np.array([2.0, 1.0, 3.0])
    raw = ((0 - 1 / 3) + (0.25 - 2 / 3) + (1 - 1)) / 3
    perfect = ((0.75 - 1 / 3) + (1 - 2 / 3) + 0) / 3
    assert normalized_gini(actual, predicted) == pytest.approx(raw / perfect)


def test_gini_is_nan_without_spend() -> None:
    assert math.isnan(normalized_gini(np.zeros(4), np.arange(4.0)))


def test_decile_mape_hand_computed() -> None:
    # Two groups by prediction: {pred 1,1 | actual 2,0} and {pred 3,5 | actual 4,4}.
    actual, predicted = np.array([2.0, 0, 4, 4]), np.array([1.0, 1, 3, 5])
    assert decile_mape(actual, predicted, groups=2) == pytest.approx((0 + 0) / 2)
    assert decile_mape(actual, predicted * 2, groups=2) == pytest.approx((2 / 2 + 8 / 8) / 2)
    # A group whose customers spent nothing has no percentage error and is left out.
    assert decile_mape(np.array([0.0, 0, 4, 4]), predicted, groups=2) == pytest.approx(0.0)


def test_aggregate_error_and_spearman() -> None:
    actual = np.array([1.0, 2, 3, 4])
    assert aggregate_error(actual, actual * 1.1) == pytest.approx(0.1)
    assert aggregate_error(actual, actual[::-1]) == 0.0
    assert spearman(actual, actual ** 2) == pytest.approx(1.0)
    assert math.isnan(spearman(actual, np.ones(4)))


def test_beats_requires_every_metric() -> None:
    base = {"spearman": 0.3, "gini": 0.5, "decile_mape": 0.3, "aggregate_error": 0.2}
    assert beats({**base, "gini": 0.6, "decile_mape": 0.2, "aggregate_error": 0.1}, base)
    assert not beats({**base, "gini": 0.6, "decile_mape": 0.2}, base)  # ties do not win
    assert not beats({**base, "gini": math.nan, "decile_mape": 0.2, "aggregate_error": 0.1}, base)


def test_table_lists_models_side_by_side() -> None:
    actual = np.array([0.0, 1, 2, 3])
    table = format_table({"good": evaluate(actual, actual), "flat": evaluate(actual, actual * 0)})
    lines = table.splitlines()
    assert "gini" in lines[0] and lines[2].startswith("good") and lines[3].startswith("flat")
