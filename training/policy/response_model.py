"""Each promoter's expected kept sales and commissionable sales at each rate on the ladder.

Method, in three fits per target (kept sales; commissionable sales, which for a refund abuser
is larger, since its refunds escape the hold):
1. Level: LightGBM (Tweedie, log link) of the outcome on promoter features, fitted on the clean
   plan-rate rows only (plan rate this cycle and the two before) and cross-fitted by promoter,
   so each row's level is predicted by a model that never saw that promoter.
2. Elasticity e(x): among explored rows (rate drawn by the logging policy, propensity logged),
   the outcome over its level is modelled as 1 + (1 - rho) * ((r / r0) ** e(x) - 1), the first
   cycle of an adstock (AR(1) carry-over) response; LightGBM fits e(x) with a custom quasi-Poisson
   objective, each row weighted by the inverse of its logged propensity. e is clipped at 0, so
   predicted sales never fall when the rate rises (the monotone shape incentive systems impose).
3. Carry-over rho: one number, by a 1-D search over rows where the rate changed this cycle or the
   one before, given e(x).
The steady state of an arm is level * (r / r0) ** e(x). Intervals: `bags` promoter-bootstrap fits
of e(x); the interval of an arm is the spread of the bags' predictions (mean +- 1.96 sd).
This uses the logging design: explored rates are random given the features, so the explored rows
identify e(x) without confounding. It assumes the power-law shape; the simulator draws from that
shape, which is stated in the README as a limit of what these numbers prove.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import lightgbm as lgb
import numpy as np
import pandas as pd

from training.policy.config import PolicyConfig
from training.policy.data import DYNAMIC, STATIC, TARGETS

LEVEL_FEATURES = STATIC + DYNAMIC
MAX_RATIO = 20.0  # clip on outcome / level, so one lucky promoter cannot steer a leaf
MIN_LEVEL_YUAN = 5.0  # promoters expected to sell less per cycle tell nothing about a ratio
LEVEL_HALF_YUAN = 300.0  # a promoter at this level counts half as much as a big one
MAX_ELASTICITY = 3.0
RHO_GRID = np.linspace(0.0, 0.9, 19)
SHRINK_GRID_YUAN = np.array([1.0, 10.0, 30.0, 100.0, 300.0, 1e3, 3e3, 1e4, 1e5, 1e7])
FOLDS = 2


@dataclass
class ArmPredictions:
    """Per promoter (rows) and ladder arm (columns), in yuan per cycle."""

    kept: np.ndarray
    commissionable: np.ndarray
    kept_sd: np.ndarray
    ladder: np.ndarray
    margin_rate: np.ndarray
    upline: np.ndarray
    margin: np.ndarray = field(init=False)
    commission: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        self.commission = (self.ladder[None, :] + self.upline[:, None]) * self.commissionable
        self.margin = self.margin_rate[:, None] * self.kept - self.commission


@dataclass
class TargetFit:
    levels: list[lgb.Booster]  # one per fold of promoters
    elasticity: list[lgb.Booster]  # one per bag
    rho: float
    base_e: float
    calibration: float = 1.0  # observed / predicted on the clean plan rows, out of fold


@dataclass
class ResponseModel:
    fits: dict[str, TargetFit]
    ladder: np.ndarray
    plan_rate: float
    upline_rate: float
    explored_rows: dict[int, int]
    metrics: dict[str, float] = field(default_factory=dict)

    def level(self, target: str, rows: pd.DataFrame) -> np.ndarray:
        fit = self.fits[target]
        fold = level_fold(rows["promoter"].to_numpy())
        out = np.zeros(len(rows))
        for k, booster in enumerate(fit.levels):
            # predict each promoter with the fold model that did not see it
            mask = fold != k if FOLDS == 2 else fold == k
            out[mask] = booster.predict(rows.loc[mask, LEVEL_FEATURES])
        return out * rows["active"].to_numpy() * fit.calibration

    def elasticity(self, target: str, rows: pd.DataFrame) -> np.ndarray:
        """Bags x rows of e(x)."""
        fit = self.fits[target]
        raw = np.stack([b.predict(rows[LEVEL_FEATURES], raw_score=True) for b in fit.elasticity])
        return np.clip(raw + fit.base_e, 0.0, MAX_ELASTICITY)

    def predict_arms(self, decision: pd.DataFrame) -> ArmPredictions:
        log_ratio = np.log(self.ladder / self.plan_rate)[None, None, :]
        out: dict[str, np.ndarray] = {}
        sd: dict[str, np.ndarray] = {}
        for target in TARGETS:
            level = self.level(target, decision)
            bags = level[None, :, None] * np.exp(self.elasticity(target, decision)[:, :, None]
                                                 * log_ratio)
            out[target], sd[target] = bags.mean(0), bags.std(0)
        return ArmPredictions(
            kept=out["kept"], commissionable=out["commissionable"], kept_sd=sd["kept"],
            ladder=self.ladder, margin_rate=decision["margin_rate"].to_numpy(),
            upline=self.upline_rate * decision["has_parent"].to_numpy())

    def one_step(self, target: str, rows: pd.DataFrame, rate: np.ndarray) -> np.ndarray:
        """Expected outcome of logged rows had `rate` been served (their lagged rates as logged)."""
        fit = self.fits[target]
        e = self.elasticity(target, rows).mean(0)
        ratio = _adstock(e, rate / self.plan_rate, rows["prev_rate"].to_numpy() / self.plan_rate,
                         fit.rho)
        return self.level(target, rows) * ratio


def _adstock(e: np.ndarray, now: np.ndarray, before: np.ndarray, rho: float) -> np.ndarray:
    """Effort this cycle when the rate ratio was `before` last cycle (and 1 before that)."""
    last = 1.0 + (1.0 - rho) * (before**e - 1.0)
    return rho * last + (1.0 - rho) * now**e


def level_fold(promoter: np.ndarray) -> np.ndarray:
    """Cross-fitting fold of the level model; independent of promoter parity, which OPE uses."""
    return (promoter // 2) % FOLDS


def explored_rows(frame: pd.DataFrame, arms: int) -> dict[int, int]:
    counts = frame.loc[frame["propensity"] < 0.5].groupby("arm").size()
    return {a: int(counts.get(a, 0)) for a in range(arms)}


def has_evidence(rows: dict[int, int], plan_arm: int, config: PolicyConfig) -> bool:
    """True when every arm but the plan's was explored at least `min_explored_rows_per_arm`."""
    return all(count >= config.min_explored_rows_per_arm
               for arm, count in rows.items() if arm != plan_arm)


def _fit_levels(rows: pd.DataFrame, target: str, config: PolicyConfig) -> list[lgb.Booster]:
    clean = rows.loc[(rows["rate"] == rows["prev_rate"]) & (rows["prev_rate"] == rows["prev2_rate"])
                     & np.isclose(rows["rate"], config_plan(rows))]
    boosters = []
    for k in range(FOLDS):
        part = clean.loc[level_fold(clean["promoter"].to_numpy()) == k]
        data = lgb.Dataset(part[LEVEL_FEATURES], part[target].to_numpy(),
                           categorical_feature=["channel", "category"])
        params = {"objective": "tweedie", "tweedie_variance_power": 1.3, "learning_rate": 0.1,
                  "num_leaves": 31, "min_data_in_leaf": 50, "verbose": -1, "num_threads": 1,
                  "seed": config.seed + k}
        boosters.append(lgb.train(params, data, num_boost_round=config.trees))
    return boosters


def config_plan(rows: pd.DataFrame) -> float:
    """The plan rate: the logging policy's most served rate."""
    return float(rows["rate"].mode().iloc[0])


def _adstock_and_slope(e: np.ndarray, log_now: np.ndarray, log_before: np.ndarray,
                       rho: float) -> tuple[np.ndarray, np.ndarray]:
    """`_adstock` in log rate ratios, and its derivative in e (for the boosting objective)."""
    now, before = np.exp(e * log_now), np.exp(e * log_before)
    mu = rho * (1.0 + (1.0 - rho) * (before - 1.0)) + (1.0 - rho) * now
    slope = rho * (1.0 - rho) * log_before * before + (1.0 - rho) * log_now * now
    return mu, slope


def _elasticity_objective(log_now: np.ndarray, log_before: np.ndarray, ratio: np.ndarray,
                          rho: float, base_e: float):
    def objective(preds: np.ndarray, data: lgb.Dataset) -> tuple[np.ndarray, np.ndarray]:
        e = np.clip(preds + base_e, 0.0, MAX_ELASTICITY)
        mu, dmu = _adstock_and_slope(e, log_now, log_before, rho)
        mu = np.maximum(mu, 1e-9)
        weight = data.get_weight()
        grad = weight * (1.0 - ratio / mu) * dmu
        hess = weight * dmu**2 / mu + 1e-6
        return grad, hess
    return objective


def _fit_elasticity(explored: pd.DataFrame, level: np.ndarray, target: str, rho: float,
                    config: PolicyConfig) -> tuple[list[lgb.Booster], float]:
    """e(x) on explored rows: the first cycle of an exploration (plan before) and any later cycle
    of a block on the same rate (effort has built up: 1 - rho**2 of the way after two)."""
    ratio = np.clip(explored[target].to_numpy() / np.maximum(level, 1e-6), 0.0, MAX_RATIO)
    plan = config_plan_from(explored)
    log_now = np.log(explored["rate"].to_numpy() / plan)
    log_before = np.log(explored["prev_rate"].to_numpy() / plan)
    # a ratio's noise shrinks with the promoter's level (Poisson), so weigh by level, capped
    weight = level / (level + LEVEL_HALF_YUAN) / explored["propensity"].to_numpy()
    weight = weight / weight.mean()
    base_e = _start_elasticity(log_now, log_before, ratio, rho, weight)
    promoters = explored["promoter"].to_numpy()
    unique = np.unique(promoters)
    rng = np.random.default_rng(config.seed + 1)
    boosters = []
    for bag in range(config.bags):
        times = np.bincount(rng.choice(unique, len(unique)), minlength=int(promoters.max()) + 1)
        data = lgb.Dataset(explored[LEVEL_FEATURES], ratio, weight=weight * times[promoters],
                           categorical_feature=["channel", "category"])
        params = {"objective": _elasticity_objective(log_now, log_before, ratio, rho, base_e),
                  "learning_rate": 0.1, "num_leaves": 8, "min_data_in_leaf": 100,
                  "lambda_l2": 1.0, "verbose": -1, "num_threads": 1, "seed": config.seed + bag}
        boosters.append(lgb.train(params, data, num_boost_round=config.elasticity_trees))
    return boosters, base_e


def _start_elasticity(log_now: np.ndarray, log_before: np.ndarray, ratio: np.ndarray, rho: float,
                      weight: np.ndarray) -> float:
    """The single elasticity that fits these rows best: where the boosting starts from."""
    best = (np.inf, 0.0)
    for e in np.linspace(0.0, MAX_ELASTICITY, 61):
        mu, _ = _adstock_and_slope(np.full(len(ratio), e), log_now, log_before, rho)
        mu = np.maximum(mu, 1e-9)
        loss = float((weight * (mu - ratio * np.log(mu))).sum())
        best = min(best, (loss, float(e)))
    return best[1]


def config_plan_from(rows: pd.DataFrame) -> float:
    return float(rows["plan_rate"].iloc[0])


def _global_fit(rows: pd.DataFrame, level: np.ndarray, target: str, plan: float
                ) -> tuple[float, float]:
    """One elasticity and the carry-over rho for the whole mall, by grid search (deviance)."""
    ratio = np.clip(rows[target].to_numpy() / np.maximum(level, 1e-6), 0.0, MAX_RATIO)
    now = rows["rate"].to_numpy() / plan
    before = rows["prev_rate"].to_numpy() / plan
    weight = np.where(level >= MIN_LEVEL_YUAN, level / (level + LEVEL_HALF_YUAN), 0.0)
    best = (np.inf, 0.5, 0.3)
    for e in np.linspace(0.0, MAX_ELASTICITY, 31):
        for rho in RHO_GRID:
            mu = np.maximum(_adstock(np.full(len(rows), e), now, before, rho), 1e-9)
            loss = float((weight * (mu - ratio * np.log(mu))).sum())
            if loss < best[0]:
                best = (loss, e, rho)
    return best[1], best[2]


def _carry_over(rows: pd.DataFrame, level: np.ndarray, target: str, plan: float,
                e: np.ndarray) -> float:
    """Carry-over rho that best fits rows whose rate moved, given each row's elasticity."""
    ratio = np.clip(rows[target].to_numpy() / np.maximum(level, 1e-6), 0.0, MAX_RATIO)
    now = rows["rate"].to_numpy() / plan
    before = rows["prev_rate"].to_numpy() / plan
    weight = np.where(level >= MIN_LEVEL_YUAN, level / (level + LEVEL_HALF_YUAN), 0.0)
    losses = []
    for rho in RHO_GRID:
        mu = np.maximum(_adstock(e, now, before, rho), 1e-9)
        losses.append(float((weight * (mu - ratio * np.log(mu))).sum()))
    return float(RHO_GRID[int(np.argmin(losses))])


def _own_multiplier(rows: pd.DataFrame, level: np.ndarray, target: str, plan: float
                    ) -> np.ndarray:
    """Each row's promoter's own selling level relative to the level model, shrunk toward 1.

    Talent the features do not see is the largest noise in outcome / level; the promoter's own
    clean plan-rate cycles (plan this cycle and the two before, so no carry-over from an
    exploration) measure it. Gamma-Poisson shrinkage: (own sales + k) / (own level + k), with k
    (yuan) chosen by predicting each promoter's even clean cycles from its odd ones (deviance).
    """
    clean = ((rows["rate"] == plan) & (rows["prev_rate"] == plan)
             & (rows["prev2_rate"] == plan)).to_numpy()
    promoter = rows["promoter"].to_numpy()
    size = int(promoter.max()) + 1
    y = rows[target].to_numpy()
    odd = (rows["cycle"].to_numpy() % 2 == 1)

    def sums(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return (np.bincount(promoter[mask], y[mask], minlength=size),
                np.bincount(promoter[mask], level[mask], minlength=size))

    y_odd, l_odd = sums(clean & odd)
    y_even, l_even = sums(clean & ~odd)
    scored = (l_odd > 0) & (l_even > 0)
    best = (np.inf, SHRINK_GRID_YUAN[-1])
    for k in SHRINK_GRID_YUAN:
        mu = np.maximum(l_even * (y_odd + k) / (l_odd + k), 1e-9)[scored]
        loss = float((mu - y_even[scored] * np.log(mu)).sum())
        best = min(best, (loss, float(k)))
    y_all, l_all = sums(clean)
    multiplier = (y_all + best[1]) / (l_all + best[1])
    return np.clip(multiplier[promoter], 1.0 / MAX_RATIO, MAX_RATIO)


def fit_response(frame: pd.DataFrame, ladder: np.ndarray, upline_rate: float,
                 config: PolicyConfig) -> ResponseModel:
    """Fit level, elasticity and carry-over per target from the logged rows."""
    rows = frame.loc[frame["active"] == 1].copy()
    plan = config_plan(rows)
    rows["plan_rate"] = plan
    moved = (rows["rate"] != plan) | (rows["prev_rate"] != plan)
    clean_lag = rows["prev2_rate"] == plan
    fits: dict[str, TargetFit] = {}
    shell = ResponseModel({}, np.asarray(ladder), plan, upline_rate,
                          explored_rows(frame, len(ladder)))
    for target in TARGETS:
        levels = _fit_levels(rows, target, config)
        shell.fits[target] = TargetFit(levels, [], 0.0, 0.0)
        clean = rows.loc[(rows["rate"] == plan) & (rows["prev_rate"] == plan)]
        calibration = float(clean[target].sum() / max(shell.level(target, clean).sum(), 1e-9))
        shell.fits[target].calibration = calibration
        own = _own_multiplier(rows, shell.level(target, rows), target, plan)
        changed_mask = (moved & clean_lag).to_numpy()
        changed = rows.loc[changed_mask]
        level = shell.level(target, changed) * own[changed_mask]
        base_e, rho = _global_fit(changed, level, target, plan)
        held = (changed["prev_rate"] == plan) | (changed["prev_rate"] == changed["rate"])
        on_explored = (changed["rate"] != plan) & held
        explored = changed.loc[on_explored]
        explored_level = level[on_explored.to_numpy()]
        keep = explored_level >= MIN_LEVEL_YUAN
        for _ in range(2):  # e(x) given rho, then rho given e(x), then e(x) again
            elasticity, base_e = _fit_elasticity(explored.loc[keep], explored_level[keep],
                                                 target, rho, config)
            fits[target] = TargetFit(levels, elasticity, rho, base_e, calibration)
            shell.fits[target] = fits[target]
            rho = _carry_over(changed, level, target, plan, shell.elasticity(target, changed)
                              .mean(0))
    shell.metrics = {f"{t}_{k}": float(getattr(f, k)) for t, f in fits.items()
                     for k in ("rho", "base_e", "calibration")}
    return shell
