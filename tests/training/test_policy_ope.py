"""IPS, SNIPS and DR recover a known policy value from logs with known propensities, and DR's
interval is the narrowest when its reward model is good."""

from __future__ import annotations

import numpy as np

from training.policy import ope


def _log(seed: int, n: int = 20_000, arms: int = 4, eps: float = 0.3):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    mean = np.stack([1 + a * 0.2 * x for a in range(arms)], axis=1) + 5
    explore = rng.random(n) < eps
    logged = np.where(explore, rng.integers(0, arms, n), 0)
    propensity = eps / arms + (1 - eps) * (logged == 0)
    reward = mean[np.arange(n), logged] + rng.normal(0, 1, n)
    target = (x > 0).astype(int) * 3
    truth = mean[np.arange(n), target].mean()
    return reward, logged, target, propensity, mean, truth


def test_95_percent_intervals_cover_the_truth_and_dr_is_tightest() -> None:
    covered = {"ips": 0, "snips": 0, "dr": 0}
    width = {"ips": 0.0, "snips": 0.0, "dr": 0.0}
    runs = 40
    for seed in range(runs):
        reward, logged, target, p, mean, truth = _log(seed, n=4000)
        cluster = np.arange(len(reward))
        rows = np.arange(len(reward))
        q_model = mean + 0.05  # a slightly wrong reward model
        estimates = {
            "ips": ope.ips(reward, logged, target, p, cluster),
            "snips": ope.snips(reward, logged, target, p, cluster),
            "dr": ope.doubly_robust(reward, logged, target, p, q_model[rows, logged],
                                    q_model[rows, target], cluster),
        }
        for name, est in estimates.items():
            covered[name] += est.low <= truth <= est.high
        for name, est in estimates.items():
            width[name] += est.high - est.low
    assert all(c >= 0.85 * runs for c in covered.values()), covered
    assert width["dr"] < width["snips"] < width["ips"]


def test_dr_survives_a_wrong_reward_model_when_propensities_are_right() -> None:
    reward, logged, target, p, _, truth = _log(2)
    rows = np.arange(len(reward))
    bad = np.zeros((len(reward), 4)) + 3.0
    est = ope.doubly_robust(reward, logged, target, p, bad[rows, logged], bad[rows, target],
                            rows)
    assert abs(est.estimate - truth) / truth < 0.05
    naive = bad[rows, target].mean()
    assert abs(naive - truth) / truth > 0.3


def test_a_policy_the_log_never_served_has_no_ips_support() -> None:
    reward, logged, target, p, _, _ = _log(3, eps=0.0)
    est = ope.snips(reward, logged, np.full(len(reward), 3), p, np.arange(len(reward)))
    assert np.isnan(est.estimate)
