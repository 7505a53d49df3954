"""Choose one arm per promoter to maximise total value under one global budget constraint.

The problem is a multiple-choice knapsack: maximise sum_i value[i, a_i] subject to
sum_i cost[i, a_i] <= capacity, one allowed arm per promoter. For the commission budget,
cost = commission - budget_share * net GMV, so the constraint reads commission <= share * GMV and
capacity is 0. The Lagrangian dual relaxes the constraint: for a price lambda >= 0 each promoter
independently takes argmax(value - lambda * cost); spend falls as lambda rises, so bisection finds
the smallest lambda whose allocation is feasible. This is exact up to one promoter's fractional
item (the dual gap of a knapsack), vectorised, and linear in promoters x arms per step; tests
check it against scipy's exact MILP on small instances.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MAX_BISECTIONS = 60
TIE_BREAK = 1e-9  # prefers the current arm among (near-)equal values: no change without a reason


@dataclass(frozen=True)
class Allocation:
    arm: np.ndarray
    lagrange: float
    value: float
    cost: float
    feasible: bool


def _choose(value: np.ndarray, cost: np.ndarray, allowed: np.ndarray, lam: float,
            current: np.ndarray | None) -> np.ndarray:
    score = value - lam * cost
    if current is not None:
        arms = np.arange(value.shape[1])[None, :]
        score = score - TIE_BREAK * (1 + np.abs(value).max()) * np.abs(arms - current[:, None])
    score = np.where(allowed, score, -np.inf)
    return score.argmax(axis=1)


def _totals(value: np.ndarray, cost: np.ndarray, arm: np.ndarray) -> tuple[float, float]:
    rows = np.arange(len(arm))
    return float(value[rows, arm].sum()), float(cost[rows, arm].sum())


def allocate(value: np.ndarray, cost: np.ndarray, capacity: float,
             allowed: np.ndarray | None = None, current: np.ndarray | None = None) -> Allocation:
    """Lagrangian multiple-choice knapsack; the cheapest allowed arm when nothing is feasible."""
    if value.shape != cost.shape or value.ndim != 2:
        raise ValueError(f"value/cost: shapes {value.shape}/{cost.shape} must match and be 2-D")
    if allowed is None:
        allowed = np.ones(value.shape, dtype=bool)
    if not allowed.any(axis=1).all():
        raise ValueError("allowed: some promoter has no allowed arm")
    arm = _choose(value, cost, allowed, 0.0, current)
    total_value, total_cost = _totals(value, cost, arm)
    if total_cost <= capacity:
        return Allocation(arm, 0.0, total_value, total_cost, True)
    spread = np.abs(value[allowed]).max() if value.size else 1.0
    cost_gap = np.where(allowed, cost, np.inf).min(axis=1)
    low, high = 0.0, 1.0
    while _totals(value, cost, _choose(value, cost, allowed, high, current))[1] > capacity:
        high *= 4.0
        if high > 1e12 * max(spread, 1.0):
            cheapest = np.where(allowed, cost, np.inf).argmin(axis=1)
            v, c = _totals(value, cost, cheapest)
            return Allocation(cheapest, high, v, c, bool(cost_gap.sum() <= capacity))
    for _ in range(MAX_BISECTIONS):
        mid = (low + high) / 2
        if _totals(value, cost, _choose(value, cost, allowed, mid, current))[1] > capacity:
            low = mid
        else:
            high = mid
    arm = _choose(value, cost, allowed, high, current)
    total_value, total_cost = _totals(value, cost, arm)
    return Allocation(arm, high, total_value, total_cost, total_cost <= capacity)


def allocate_exact(value: np.ndarray, cost: np.ndarray, capacity: float,
                   allowed: np.ndarray | None = None) -> Allocation:
    """The same problem solved exactly with scipy's MILP (HiGHS): for tests and small instances."""
    from scipy.optimize import Bounds, LinearConstraint, milp

    n, arms = value.shape
    if n * arms > 200_000:
        raise ValueError(f"value: {n} x {arms} is too large for the exact solver (limit 200000)")
    if allowed is None:
        allowed = np.ones(value.shape, dtype=bool)
    one_each = np.kron(np.eye(n), np.ones(arms))
    constraints = [LinearConstraint(one_each, 1, 1),
                   LinearConstraint(cost.reshape(1, -1), -np.inf, capacity)]
    result = milp(-value.ravel(), constraints=constraints, integrality=np.ones(n * arms),
                  bounds=Bounds(0, allowed.ravel().astype(float)))
    if result.x is None:
        return Allocation(np.zeros(n, dtype=np.int64), float("nan"), float("nan"),
                          float("nan"), False)
    arm = result.x.reshape(n, arms).argmax(axis=1)
    v, c = _totals(value, cost, arm)
    return Allocation(arm, float("nan"), v, c, True)
