"""Off-policy value of a deterministic rate policy from logs with known propensities.

For logged rows (context x, served arm a, propensity p, reward y) and a target arm pi(x), with
w = 1[a = pi] / p:
- IPS = mean(w * y) (Horvitz-Thompson);
- SNIPS = sum(w * y) / sum(w) (self-normalised; Swaminathan & Joachims 2015);
- DR = mean(q(x, pi) + w * (y - q(x, a))) with q a reward model (Dudik, Langford & Li 2011):
  unbiased when either q or p is right, and low-variance when q is good;
- self-normalised DR = mean(q(x, pi)) + sum(w * (y - q(x, a))) / sum(w), the weighted doubly
  robust estimator of Thomas & Brunskill (2016, bandit case): the correction is a SNIPS of the
  residuals, consistent, with a bias of order 1 / n, and less variable when a few rows carry
  large weights (here every explored row on a non-plan target arm carries 1 / p = 70).
Intervals are the CLT (mean +- 1.96 standard errors) over promoters, since a promoter's cycles
are not independent (the ratio estimators linearised: each row's influence). They cover the
policy's value on a mall like this one, so they also cover its value on these very rows, which
differs from it only by which promoters the mall happens to have.

No unbiased estimator of a deterministic policy's value can beat DR with the true mean reward
as q: its error is the noise of the few rows the log served at the target arm (measured in
training/policy/README.md). `own_level_multiplier` moves q toward that by each promoter's own
history.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

Z95 = 1.959964
MAX_MULTIPLIER = 20.0  # as the response model's own-history ratio clip
SHRINK_GRID = np.array([1.0, 10.0, 30.0, 100.0, 300.0, 1e3, 3e3, 1e4, 3e4, 1e5, 1e12])


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


def _around(estimate: float, influence: np.ndarray, cluster: np.ndarray) -> Estimate:
    """`estimate` with the clustered interval of its per-row influence (a linearised ratio)."""
    spread = _clustered(influence, cluster, len(influence))
    half = (spread.high - spread.low) / 2
    return Estimate(estimate, estimate - half, estimate + half)


def _weights(logged: np.ndarray, target: np.ndarray, propensity: np.ndarray) -> np.ndarray:
    return (logged == target) / propensity


def ips(reward: np.ndarray, logged: np.ndarray, target: np.ndarray, propensity: np.ndarray,
        cluster: np.ndarray) -> Estimate:
    w = _weights(logged, target, propensity)
    return _clustered(w * reward, cluster, len(reward))


def snips(reward: np.ndarray, logged: np.ndarray, target: np.ndarray, propensity: np.ndarray,
          cluster: np.ndarray) -> Estimate:
    w = _weights(logged, target, propensity)
    norm = w.mean()
    if norm <= 0:
        return Estimate(float("nan"), float("nan"), float("nan"))
    # linearised ratio estimator: influence of each row is w * (y - estimate) / mean(w)
    estimate = float((w * reward).mean() / norm)
    return _around(estimate, w * (reward - estimate) / norm, cluster)


def doubly_robust(reward: np.ndarray, logged: np.ndarray, target: np.ndarray,
                  propensity: np.ndarray, q_logged: np.ndarray, q_target: np.ndarray,
                  cluster: np.ndarray) -> Estimate:
    w = _weights(logged, target, propensity)
    return _clustered(q_target + w * (reward - q_logged), cluster, len(reward))


def self_normalised_dr(reward: np.ndarray, logged: np.ndarray, target: np.ndarray,
                       propensity: np.ndarray, q_logged: np.ndarray, q_target: np.ndarray,
                       cluster: np.ndarray) -> Estimate:
    """Weighted DR (Thomas & Brunskill 2016): the residual correction self-normalised."""
    w = _weights(logged, target, propensity)
    norm = w.mean()
    if norm <= 0:  # no row on the target arms: the reward model alone, no interval to give
        return Estimate(float(q_target.mean()), float("nan"), float("nan"))
    residual = reward - q_logged
    correction = float((w * residual).mean() / norm)
    estimate = float(q_target.mean()) + correction
    influence = q_target + w * (residual - correction) / norm
    return _around(estimate, influence, cluster)


def own_level_multiplier(outcome: np.ndarray, level: np.ndarray, clean: np.ndarray,
                         promoter: np.ndarray, cycle: np.ndarray, shrink: float,
                         skip_after: int = 2) -> np.ndarray:
    """Per row, (own clean outcome + shrink) / (own clean level + shrink) over the promoter's
    clean rows outside cycles c .. c + `skip_after` (gamma-Poisson shrinkage toward 1).

    A reward model scaled by it sees the talent the features miss, which is most of a row's
    error, without reading the row's own outcome or the rows right after it: whether a later
    cycle is clean (plan rate this cycle and the two before) depends on this row's arm only up to
    c + 2, so q stays independent of the logged arm and its noise, as DR needs (what is left is
    the carry-over of this cycle's effort into cycle c + 3 and later: carry_over ** 3 of it).
    """
    if not len(outcome):
        return np.ones(0)
    if cycle.min() < 0 or cycle.max() > 10_000:
        raise ValueError(f"cycle: {cycle.min()}..{cycle.max()} is outside 0..10000")
    ids, row_of = np.unique(promoter, return_inverse=True)
    cycles = int(cycle.max()) + 1
    own = np.zeros((len(ids), cycles))
    base = np.zeros((len(ids), cycles))
    np.add.at(own, (row_of, cycle), np.where(clean, outcome, 0.0))
    np.add.at(base, (row_of, cycle), np.where(clean, level, 0.0))
    grid = np.arange(cycles)
    use = ((grid[None, :] < grid[:, None]) | (grid[None, :] > grid[:, None] + skip_after))
    own_sum = (own @ use.T.astype(float))[row_of, cycle]
    base_sum = (base @ use.T.astype(float))[row_of, cycle]
    return np.clip((own_sum + shrink) / (base_sum + shrink), 1.0 / MAX_MULTIPLIER,
                   MAX_MULTIPLIER)


def choose_shrink(outcome: np.ndarray, level: np.ndarray, clean: np.ndarray,
                  promoter: np.ndarray, cycle: np.ndarray) -> float:
    """The shrinkage (in the outcome's unit) whose multiplier best predicts clean outcomes in
    squared error, the loss DR's variance pays; fitted on rows DR will not judge."""
    best = (np.inf, float(SHRINK_GRID[-1]))
    for shrink in SHRINK_GRID:
        m = own_level_multiplier(outcome, level, clean, promoter, cycle, float(shrink))
        loss = float(((outcome - m * level)[clean] ** 2).sum())
        best = min(best, (loss, float(shrink)))
    return best[1]
