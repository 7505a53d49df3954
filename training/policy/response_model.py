"""Each promoter's expected kept sales and commissionable sales at each rate on the ladder.

Method: a propensity-weighted direct model. LightGBM with a Tweedie (log-link) objective learns
E[outcome | features, served rate, the two previous rates]; every logged row is weighted by the
inverse of its logged propensity (stabilised, clipped), so the few explored arms weigh as much in
the fit as the plan arm that the logging policy served 9 times in 10, and the fit estimates the
response under a uniform design instead of under the logging policy. The served and lagged rates
carry a monotone-increasing constraint, so predicted sales never fall when the rate rises. The
steady state of an arm is the prediction with all three rate columns set to it (carry-over).
Intervals: promoters are resampled with replacement for each of `bags` fits; the interval is the
bags' mean +- 1.96 standard deviations. Margin, commission and GMV per arm follow by arithmetic
from kept and commissionable sales, the rate, the upline rate and the category margin.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import lightgbm as lgb
import numpy as np
import pandas as pd

from training.policy.config import PolicyConfig
from training.policy.data import FEATURES, RATES, TARGETS

MAX_WEIGHT = 30.0  # clip on the stabilised inverse-propensity weight


@dataclass
class ArmPredictions:
    """Per promoter (rows) and ladder arm (columns), in yuan per cycle."""

    kept: np.ndarray
    commissionable: np.ndarray
    kept_sd: np.ndarray
    margin: np.ndarray = field(init=False)
    commission: np.ndarray = field(init=False)
    ladder: np.ndarray = field(default_factory=lambda: np.zeros(0))
    margin_rate: np.ndarray = field(default_factory=lambda: np.zeros(0))
    upline: np.ndarray = field(default_factory=lambda: np.zeros(0))

    def __post_init__(self) -> None:
        self.commission = (self.ladder[None, :] + self.upline[:, None]) * self.commissionable
        self.margin = self.margin_rate[:, None] * self.kept - self.commission


@dataclass
class ResponseModel:
    """Fitted bags per target; `predict_arms` turns decision rows into per-arm predictions."""

    boosters: dict[str, list[lgb.Booster]]
    ladder: np.ndarray
    upline_rate: float
    explored_rows: dict[int, int]
    metrics: dict[str, float] = field(default_factory=dict)

    def predict_arms(self, decision: pd.DataFrame) -> ArmPredictions:
        n, arms = len(decision), len(self.ladder)
        stacked = pd.concat([decision[FEATURES]] * arms, ignore_index=True)
        arm_rates = np.repeat(self.ladder, n)
        for column in RATES:
            stacked[column] = arm_rates
        preds: dict[str, np.ndarray] = {}
        sds: dict[str, np.ndarray] = {}
        for target, bags in self.boosters.items():
            each = np.stack([b.predict(stacked) for b in bags])  # bags x (arms * n)
            preds[target] = each.mean(0).reshape(arms, n).T
            sds[target] = each.std(0).reshape(arms, n).T
        active = decision["active"].to_numpy()[:, None]
        upline = self.upline_rate * decision["has_parent"].to_numpy()
        return ArmPredictions(
            kept=preds["kept"] * active, commissionable=preds["commissionable"] * active,
            kept_sd=sds["kept"] * active, ladder=self.ladder,
            margin_rate=decision["margin_rate"].to_numpy(), upline=upline)


def explored_rows(frame: pd.DataFrame, arms: int) -> dict[int, int]:
    counts = frame.loc[frame["propensity"] < 0.5].groupby("arm").size()
    return {a: int(counts.get(a, 0)) for a in range(arms)}


def has_evidence(model_rows: dict[int, int], plan_arm: int, config: PolicyConfig) -> bool:
    """True when every arm but the plan's was explored at least `min_explored_rows_per_arm`."""
    return all(count >= config.min_explored_rows_per_arm
               for arm, count in model_rows.items() if arm != plan_arm)


def fit_response(frame: pd.DataFrame, ladder: np.ndarray, upline_rate: float,
                 config: PolicyConfig) -> ResponseModel:
    """Fit `bags` promoter-bootstrap LightGBM models per target on the logged rows."""
    rows = frame.loc[frame["active"] == 1]
    weight = 1.0 / rows["propensity"].to_numpy()
    weight = np.minimum(weight / weight.mean(), MAX_WEIGHT)
    promoters = rows["promoter"].to_numpy()
    unique = np.unique(promoters)
    rng = np.random.default_rng(config.seed)
    boosters: dict[str, list[lgb.Booster]] = {t: [] for t in TARGETS}
    monotone = [1 if f in RATES else 0 for f in FEATURES]
    for bag in range(config.bags):
        drawn = rng.choice(unique, len(unique), replace=True)
        times = np.bincount(drawn, minlength=int(unique.max()) + 1)[promoters]
        for target in TARGETS:
            data = lgb.Dataset(rows[FEATURES], rows[target].to_numpy(),
                               weight=weight * times, categorical_feature=["channel", "category"],
                               free_raw_data=True)
            params = {"objective": "tweedie", "tweedie_variance_power": 1.3,
                      "learning_rate": 0.1, "num_leaves": 31, "min_data_in_leaf": 50,
                      "monotone_constraints": monotone, "monotone_constraints_method": "basic",
                      "feature_fraction": 0.9, "verbose": -1, "seed": config.seed + bag,
                      "num_threads": 2}
            boosters[target].append(lgb.train(params, data, num_boost_round=config.trees))
    return ResponseModel(boosters=boosters, ladder=np.asarray(ladder), upline_rate=upline_rate,
                         explored_rows=explored_rows(frame, len(ladder)))
