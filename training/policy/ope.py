"""Off-policy value of a deterministic rate policy from logs with known propensities.

For logged rows (context x, served arm a, propensity p, reward y) and a target arm pi(x):
IPS = mean(1[a = pi] / p * y); SNIPS divides by mean(1[a = pi] / p) instead of 1;
DR = mean(q(x, pi) + 1[a = pi] / p * (y - q(x, a))) with q a reward model (Dudik et al. 2011):
unbiased when either q or p is right, and low-variance when q is good. Intervals are the CLT
(mean +- 1.96 standard errors) over promoters, since a promoter's cycles are not independent.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

Z95 = 1.959964


@dataclass(frozen=True)
class Estimate:
    estimate: float
    low: float
    high: float

    def as_dict(self) -> dict[str, float]:
        return {"estimate": self.estimate, "low": self.low, "high": self.high}


def _clustered(values: np.ndarray, cluster: np.ndarray, rows: int) -> Estimate:
    """Mean per row, with a standard error from per-cluster sums (clusters = promoters)."""
    sums = np.bincount(cluster, values)
    sums = sums[np.bincount(cluster) > 0]
    k = len(sums)
    mean = values.sum() / rows
    se = np.sqrt(k) * sums.std(ddof=1) / rows if k > 1 else float("inf")
    return Estimate(float(mean), float(mean - Z95 * se), float(mean + Z95 * se))


def ips(reward: np.ndarray, logged: np.ndarray, target: np.ndarray, propensity: np.ndarray,
        cluster: np.ndarray) -> Estimate:
    w = (logged == target) / propensity
    return _clustered(w * reward, cluster, len(reward))


def snips(reward: np.ndarray, logged: np.ndarray, target: np.ndarray, propensity: np.ndarray,
          cluster: np.ndarray) -> Estimate:
    w = (logged == target) / propensity
    norm = w.mean()
    if norm <= 0:
        return Estimate(float("nan"), float("nan"), float("nan"))
    # linearised ratio estimator: influence of each row is w * (y - estimate) / mean(w)
    estimate = float((w * reward).mean() / norm)
    spread = _clustered(w * (reward - estimate) / norm, cluster, len(reward))
    half = (spread.high - spread.low) / 2
    return Estimate(estimate, estimate - half, estimate + half)


def doubly_robust(reward: np.ndarray, logged: np.ndarray, target: np.ndarray,
                  propensity: np.ndarray, q_logged: np.ndarray, q_target: np.ndarray,
                  cluster: np.ndarray) -> Estimate:
    w = (logged == target) / propensity
    return _clustered(q_target + w * (reward - q_logged), cluster, len(reward))
