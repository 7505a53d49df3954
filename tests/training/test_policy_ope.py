"""IPS, SNIPS, DR and self-normalised DR recover a known policy value from logs with known
propensities (exactly, on a balanced hand-built log), DR with a perfect reward model does not
vary with the log, DR's interval is the narrowest when its reward model is good, and a reward
model scaled by each promoter's own history stays unbiased and varies less; the learned rule a
row is judged at is the best arm at the budget's price."""

from __future__ import annotations

import numpy as np

from training.policy import ope
from training.policy.evaluation import _policy_arm
from training.policy.response_model import ArmPredictions


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


def test_a_balanced_log_with_a_deterministic_reward_gives_every_estimator_the_exact_value(
) -> None:
    # four contexts, each logged 3 times on arm 0 (p = 3/4) and once on arm 1 (p = 1/4)
    value = np.array([[10.0, 14.0], [20.0, 18.0], [0.0, 3.0], [7.0, 9.0]])  # context x arm
    context = np.repeat(np.arange(4), 4)
    logged = np.tile([0, 0, 0, 1], 4)
    propensity = np.where(logged == 0, 0.75, 0.25)
    reward = value[context, logged]
    target = np.ones(16, dtype=int)
    truth = value[:, 1].mean()  # 11.0
    q = np.array([[9.0, 1.0], [25.0, 30.0], [2.0, -4.0], [7.0, 0.0]])  # a wrong reward model
    estimates = [
        ope.ips(reward, logged, target, propensity, context),
        ope.snips(reward, logged, target, propensity, context),
        ope.doubly_robust(reward, logged, target, propensity, q[context, logged],
                          q[context, target], context),
        ope.self_normalised_dr(reward, logged, target, propensity, q[context, logged],
                               q[context, target], context),
    ]
    for est in estimates:
        assert abs(est.estimate - truth) < 1e-12
        assert est.low <= truth <= est.high


def test_dr_with_the_true_mean_reward_as_q_does_not_vary_with_the_log() -> None:
    values = []
    for seed in range(20):
        _, logged, target, p, mean, truth = _log(seed, n=2000)
        rows = np.arange(len(logged))
        reward = mean[rows, logged]  # no noise: q = mean is a perfect reward model
        for estimator in (ope.doubly_robust, ope.self_normalised_dr):
            est = estimator(reward, logged, target, p, mean[rows, logged], mean[rows, target],
                            rows)
            values.append(est.estimate - truth)
    assert np.abs(values).max() < 1e-9


def test_95_percent_intervals_cover_the_truth_and_dr_is_tightest() -> None:
    names = ("ips", "snips", "dr", "sndr")
    covered = dict.fromkeys(names, 0)
    width = dict.fromkeys(names, 0.0)
    runs = 40
    for seed in range(runs):
        reward, logged, target, p, mean, truth = _log(seed, n=4000)
        cluster = np.arange(len(reward))
        rows = np.arange(len(reward))
        q_model = mean + 0.05  # a slightly wrong reward model
        q_args = (q_model[rows, logged], q_model[rows, target], cluster)
        estimates = {
            "ips": ope.ips(reward, logged, target, p, cluster),
            "snips": ope.snips(reward, logged, target, p, cluster),
            "dr": ope.doubly_robust(reward, logged, target, p, *q_args),
            "sndr": ope.self_normalised_dr(reward, logged, target, p, *q_args),
        }
        for name, est in estimates.items():
            covered[name] += est.low <= truth <= est.high
            width[name] += est.high - est.low
    assert all(c >= 0.85 * runs for c in covered.values()), covered
    assert width["dr"] < width["snips"] < width["ips"]
    assert width["sndr"] < width["snips"]


def test_dr_survives_a_wrong_reward_model_when_propensities_are_right() -> None:
    reward, logged, target, p, _, truth = _log(2)
    rows = np.arange(len(reward))
    bad = np.zeros((len(reward), 4)) + 3.0
    for estimator in (ope.doubly_robust, ope.self_normalised_dr):
        est = estimator(reward, logged, target, p, bad[rows, logged], bad[rows, target], rows)
        assert abs(est.estimate - truth) / truth < 0.05
    naive = bad[rows, target].mean()
    assert abs(naive - truth) / truth > 0.3


def test_a_policy_the_log_never_served_has_no_ips_support() -> None:
    reward, logged, target, p, _, _ = _log(3, eps=0.0)
    est = ope.snips(reward, logged, np.full(len(reward), 3), p, np.arange(len(reward)))
    assert np.isnan(est.estimate)


def test_the_own_multiplier_skips_the_row_and_the_two_cycles_after_it() -> None:
    # one promoter, 6 cycles, level 10 each; clean outcomes 20 at cycles 0, 1, 5 (4 unclean)
    outcome = np.array([20.0, 20.0, 99.0, 99.0, 50.0, 20.0])
    clean = np.array([True, True, True, True, False, True])
    clean[2:4] = False  # rows 2 and 3 are explorations: never counted, whatever they sold
    level = np.full(6, 10.0)
    promoter, cycle = np.zeros(6, dtype=int), np.arange(6)
    m = ope.own_level_multiplier(outcome, level, clean, promoter, cycle, shrink=10.0)
    # row 0 uses cycle 5 only: (20 + 10) / (10 + 10); row 3 uses cycles 0, 1: (40 + 10) / 30
    assert np.isclose(m[0], 1.5) and np.isclose(m[3], 50 / 30)
    # row 5 uses cycles 0 and 1; row 4 uses 0 and 1 (cycle 5 is within 4 .. 4 + 2)
    assert np.isclose(m[5], 50 / 30) and np.isclose(m[4], 50 / 30)
    assert np.allclose(ope.own_level_multiplier(outcome, level, clean, promoter, cycle, 1e12), 1)


def _panel(seed: int, promoters: int = 600, cycles: int = 8, eps: float = 0.3):
    """Promoters with hidden talent, a plan arm 0 and explorations; reward = talent x f(arm)."""
    rng = np.random.default_rng(seed)
    talent = np.repeat(rng.lognormal(0.0, 1.0, promoters), cycles)
    promoter = np.repeat(np.arange(promoters), cycles)
    cycle = np.tile(np.arange(cycles), promoters)
    lift = np.array([1.0, 1.3, 1.6])
    explore = rng.random(len(cycle)) < eps
    logged = np.where(explore, rng.integers(0, 3, len(cycle)), 0)
    propensity = eps / 3 + (1 - eps) * (logged == 0)
    mean = talent[:, None] * lift[None, :] * 10
    reward = rng.poisson(mean[np.arange(len(cycle)), logged]).astype(float)
    plan = (logged == 0).reshape(promoters, cycles)
    lag1 = np.concatenate([np.ones((promoters, 1), bool), plan[:, :-1]], axis=1)
    lag2 = np.concatenate([np.ones((promoters, 2), bool), plan[:, :-2]], axis=1)
    clean = (plan & lag1 & lag2).ravel()
    return reward, logged, propensity, mean, promoter, cycle, clean


def test_a_reward_model_scaled_by_own_history_stays_unbiased_and_varies_less() -> None:
    errors: dict[str, list[float]] = {"features": [], "own": []}
    target_arm = 2
    for seed in range(60):
        reward, logged, p, mean, promoter, cycle, clean = _panel(seed)
        rows = np.arange(len(reward))
        target = np.full(len(reward), target_arm)
        truth = mean[:, target_arm].mean()
        q = np.array([1.0, 1.3, 1.6])[None, :] * 10 * np.exp(0.5) * np.ones((len(reward), 1))
        level = q[:, 0]
        shrink = ope.choose_shrink(reward, level, clean, promoter, cycle)
        m = ope.own_level_multiplier(reward, level, clean, promoter, cycle, shrink)
        for name, scale in (("features", 1.0), ("own", m)):
            est = ope.doubly_robust(reward, logged, target, p, scale * q[rows, logged],
                                    scale * q[rows, target], promoter)
            errors[name].append(est.estimate / truth - 1)
    own, features = np.array(errors["own"]), np.array(errors["features"])
    assert abs(own.mean()) < 3 * own.std(ddof=1) / np.sqrt(len(own))
    assert own.std() < 0.8 * features.std()


def test_the_learned_rule_at_a_row_takes_the_best_arm_at_the_budget_price_or_the_plan_if_flat(
) -> None:
    ladder = np.array([0.06, 0.10, 0.14])
    kept = np.array([[100.0, 120.0, 150.0], [0.0, 0.0, 0.0]])  # the second promoter is gone
    preds = ArmPredictions(kept=kept, commissionable=kept, kept_sd=np.zeros_like(kept),
                           ladder=ladder, margin_rate=np.array([0.5, 0.5]),
                           upline=np.zeros(2))
    # margins 44, 48, 54: free budget takes the top arm; a high price the cheapest
    assert list(_policy_arm(preds, 0.125, 0.0, plan_arm=1)) == [2, 1]
    assert list(_policy_arm(preds, 0.125, 100.0, plan_arm=1)) == [0, 1]
