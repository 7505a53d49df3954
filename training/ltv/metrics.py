"""How well predicted customer value matches what customers then spent, and the comparison table.

Four views, because zero-heavy spend fools any single one:
- Spearman: rank agreement over all customers (ties averaged).
- normalised Gini: area between the cumulative-actual curve, customers sorted by prediction, and
  the diagonal, divided by the same for the perfect ordering. 1 = perfect ranking, 0 = random,
  negative = worse than random. The standard "normalized Gini" of insurance/LTV work.
- decile MAPE: customers cut into ten equal groups by prediction; per group |Σpred − Σactual| /
  Σactual, averaged over groups whose actual total is positive (a group that spent nothing has no
  percentage error). It checks calibration where the money is, unlike per-customer MAPE, which
  is undefined for the many customers who spend 0.
- aggregate error: |Σpred − Σactual| / Σactual, what a finance forecast of the whole base misses.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
from scipy.stats import spearmanr

HIGHER_IS_BETTER = {"spearman": True, "gini": True, "decile_mape": False, "aggregate_error": False}
METRICS = tuple(HIGHER_IS_BETTER)
N_GROUPS = 10


def _gini(actual: np.ndarray, order_by: np.ndarray) -> float:
    # Stable sort on the prediction descending, ties broken by position, as in the Kaggle metric.
    order = np.lexsort((np.arange(len(order_by)), -order_by))
    cumulative = np.cumsum(actual[order]) / actual.sum()
    return float(np.sum(cumulative - np.arange(1, len(actual) + 1) / len(actual)) / len(actual))


def normalized_gini(actual: np.ndarray, predicted: np.ndarray) -> float:
    """Gini of the prediction's ordering over that of the perfect ordering (NaN if Σactual=0)."""
    actual, predicted = np.asarray(actual, float), np.asarray(predicted, float)
    if len(actual) < 2 or actual.sum() <= 0:
        return math.nan
    return _gini(actual, predicted) / _gini(actual, actual)


def decile_mape(actual: np.ndarray, predicted: np.ndarray, groups: int = N_GROUPS) -> float:
    """Mean |Σpred − Σactual| / Σactual over equal-size groups by prediction (see module doc)."""
    actual, predicted = np.asarray(actual, float), np.asarray(predicted, float)
    order = np.argsort(predicted, kind="stable")
    errors = []
    for part in np.array_split(order, min(groups, len(order))):
        total = actual[part].sum()
        if total > 0:
            errors.append(abs(predicted[part].sum() - total) / total)
    return float(np.mean(errors)) if errors else math.nan


def aggregate_error(actual: np.ndarray, predicted: np.ndarray) -> float:
    """|Σpred − Σactual| / Σactual (NaN when nothing was spent)."""
    total = float(np.sum(actual))
    return abs(float(np.sum(predicted)) - total) / total if total > 0 else math.nan


def spearman(actual: np.ndarray, predicted: np.ndarray) -> float:
    """Spearman rank correlation (NaN when either side is constant)."""
    actual, predicted = np.asarray(actual, float), np.asarray(predicted, float)
    if len(actual) < 2 or np.ptp(actual) == 0 or np.ptp(predicted) == 0:
        return math.nan
    return float(spearmanr(actual, predicted).statistic)


def evaluate(actual: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    """All four metrics, keyed as in `METRICS`."""
    return {"spearman": spearman(actual, predicted), "gini": normalized_gini(actual, predicted),
            "decile_mape": decile_mape(actual, predicted),
            "aggregate_error": aggregate_error(actual, predicted)}


def beats(candidate: Mapping[str, float], baseline: Mapping[str, float],
          metrics: tuple[str, ...] = ("gini", "decile_mape", "aggregate_error")) -> bool:
    """True when the candidate is strictly better than the baseline on every named metric."""
    for name in metrics:
        c, b = candidate[name], baseline[name]
        if math.isnan(c):
            return False
        if math.isnan(b):
            continue
        if (c <= b) if HIGHER_IS_BETTER[name] else (c >= b):
            return False
    return True


def format_table(results: Mapping[str, Mapping[str, float]]) -> str:
    """Models side by side: one row per model, one column per metric (arrows say which way)."""
    head = f"{'model':<16}" + "".join(
        f"{name + (' ↑' if HIGHER_IS_BETTER[name] else ' ↓'):>18}" for name in METRICS)
    rows = [head, "-" * len(head)]
    for model, scores in results.items():
        rows.append(f"{model:<16}" + "".join(f"{scores[name]:>18.4f}" for name in METRICS))
    return "\n".join(rows)
