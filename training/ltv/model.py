"""The customer-value estimators: LightGBM (tweedie or hurdle) with BG/NBD inputs, and baselines.

Why two LightGBM shapes: next-horizon spend is mostly zeros with a long right tail. A tweedie
objective models that mass at zero and the tail in one compound Poisson-gamma likelihood; a
hurdle splits it into P(spend > 0) (binary) times E[spend | spend > 0] (gamma, log link). Which
fits better depends on the mall, so `select_kind` picks one on an out-of-time fold that ends
before the training labels start (never on the evaluation window).

The fitted BG/NBD + Gamma-Gamma model travels inside `LtvModel`: its expected purchases, P(alive)
and expected value are features, and it is the whole model when the customer base is too small
for boosting (`kind == "bgnbd"`). Every estimator takes a customer feature frame
(`training.ltv.features.FEATURES`) and returns expected net revenue in minor units.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import lightgbm as lgb
import numpy as np
import pandas as pd

from training.ltv.bgnbd import BgNbdValue, rfm_arrays
from training.ltv.features import CATEGORICAL, FEATURES

BG_FEATURES = ["bg_purchases", "bg_p_alive", "gg_value_minor", "bg_value_minor"]
MODEL_FEATURES = FEATURES + BG_FEATURES
KINDS = ("tweedie", "hurdle", "bgnbd")
MIN_CUSTOMERS_FOR_GBM = 2000  # below this (or MIN_BUYERS buyers), BG/NBD alone is safer
MIN_BUYERS_FOR_GBM = 200


@dataclass(frozen=True)
class LtvParams:
    """Hyper-parameters; defaults are conventional, not tuned on any evaluation window."""

    n_estimators: int = 400
    learning_rate: float = 0.04
    num_leaves: int = 31
    min_child_samples: int = 50
    subsample: float = 0.8
    colsample_bytree: float = 0.8
    reg_lambda: float = 1.0
    tweedie_variance_power: float = 1.5
    early_stopping_rounds: int = 40
    validation_fraction: float = 0.15
    num_threads: int = 2  # fixed: LightGBM's result depends on the thread count
    # Stacked training cutoffs (training.ltv.split). 1 won on the validation fold that ends before
    # any evaluation window: stacking windows with promotion peaks over-forecast a quiet quarter.
    train_windows: int = 1
    window_step_days: int = 30

    def lgb_kwargs(self, seed: int) -> dict[str, object]:
        """Keyword arguments of the LightGBM estimators (deterministic, seeded)."""
        return {"n_estimators": self.n_estimators, "learning_rate": self.learning_rate,
                "num_leaves": self.num_leaves, "min_child_samples": self.min_child_samples,
                "subsample": self.subsample, "subsample_freq": 1,
                "colsample_bytree": self.colsample_bytree, "reg_lambda": self.reg_lambda,
                "random_state": seed, "n_jobs": self.num_threads, "deterministic": True,
                "force_row_wise": True, "verbose": -1}


def historical_average(features: pd.DataFrame, horizon_days: float) -> np.ndarray:
    """Naive baseline: net spend so far per day of tenure (at least one horizon) × horizon."""
    tenure = np.maximum(features["tenure_days"].to_numpy(float), horizon_days)
    return features["net_total_minor"].to_numpy(float) * horizon_days / tenure


def bgnbd_baseline(features: pd.DataFrame, horizon_days: float) -> np.ndarray:
    """BG/NBD × Gamma-Gamma fitted on the same cutoff's customers, predicting the horizon."""
    rfm = rfm_arrays(features)
    return BgNbdValue.fit(rfm).predict(rfm, horizon_days)["bg_value_minor"]


def _design(features: pd.DataFrame, bg: BgNbdValue, horizon_days: float,
            categories: dict[str, list[str]]) -> pd.DataFrame:
    """The matrix LightGBM sees: features, BG/NBD columns, categoricals with fixed levels."""
    frame = features[FEATURES].copy()
    for name, values in bg.predict(rfm_arrays(features), horizon_days).items():
        frame[name] = values
    for name in CATEGORICAL:
        frame[name] = pd.Categorical(frame[name].astype(str), categories=categories[name])
    return frame[MODEL_FEATURES]


@dataclass
class LtvModel:
    """A fitted customer-value model for one horizon; `predict` takes a feature frame."""

    kind: str
    horizon_days: float
    bg: BgNbdValue
    categories: dict[str, list[str]] = field(default_factory=dict)
    boosters: dict[str, lgb.LGBMModel] = field(default_factory=dict)
    balance: float = 1.0  # Σ labels / Σ raw predictions on the training window (see `_balance`)

    def predict(self, features: pd.DataFrame) -> np.ndarray:
        """Expected net revenue (minor units) over the horizon, one value per row, never < 0."""
        if len(features) == 0:
            return np.zeros(0)
        if self.kind == "bgnbd":
            return self.bg.predict(rfm_arrays(features), self.horizon_days)["bg_value_minor"]
        x = _design(features, self.bg, self.horizon_days, self.categories)
        if self.kind == "tweedie":
            out = self.boosters["value"].predict(x)
        else:
            buys = self.boosters["buys"].predict_proba(x)[:, 1]
            out = buys * self.boosters["value"].predict(x)
        return np.maximum(np.asarray(out, float), 0.0) * self.balance

    @property
    def feature_importance(self) -> dict[str, float]:
        if "value" not in self.boosters:
            return {}
        gains = self.boosters["value"].booster_.feature_importance(importance_type="gain")
        return dict(zip(MODEL_FEATURES, map(float, gains), strict=True))


def _stopping_rows(customers: pd.Series, fraction: float, seed: int) -> np.ndarray:
    """Rows held out for early stopping, by customer: stacked windows repeat customers, and a
    customer on both sides would make the stopping set look easier than new data."""
    unique = np.sort(customers.unique())
    rng = np.random.default_rng(seed)
    held = set(rng.choice(unique, max(1, int(len(unique) * fraction)), replace=False))
    return customers.isin(held).to_numpy()


def _boost(estimator: lgb.LGBMModel, x: pd.DataFrame, y: np.ndarray, customers: pd.Series,
           params: LtvParams, seed: int) -> lgb.LGBMModel:
    stop = _stopping_rows(customers, params.validation_fraction, seed)
    fit_idx, stop_idx = np.flatnonzero(~stop), np.flatnonzero(stop)
    estimator.fit(x.iloc[fit_idx], y[fit_idx], eval_X=(x.iloc[stop_idx],), eval_y=(y[stop_idx],),
                  callbacks=[lgb.early_stopping(params.early_stopping_rounds, verbose=False)])
    return estimator


def fit_ltv(features: pd.DataFrame, labels: np.ndarray, horizon_days: float, kind: str,
            params: LtvParams | None = None, seed: int = 42) -> LtvModel:
    """Fit one model kind on features at a cutoff and the revenue of the following horizon."""
    if kind not in KINDS:
        raise ValueError(f"kind: {kind!r} is not one of {', '.join(KINDS)}")
    params = params or LtvParams()
    bg = BgNbdValue.fit(rfm_arrays(features))
    categories = {name: sorted(features[name].astype(str).unique()) for name in CATEGORICAL}
    model = LtvModel(kind, float(horizon_days), bg, categories)
    if kind == "bgnbd":
        return model
    y = np.asarray(labels, float)
    x = _design(features, bg, horizon_days, categories)
    common = params.lgb_kwargs(seed)
    ids = features["customer_id"].reset_index(drop=True)
    x = x.reset_index(drop=True)
    if kind == "tweedie":
        model.boosters["value"] = _boost(lgb.LGBMRegressor(
            objective="tweedie", tweedie_variance_power=params.tweedie_variance_power, **common),
            x, y, ids, params, seed)
    else:
        model.boosters["buys"] = _boost(lgb.LGBMClassifier(objective="binary", **common),
                                        x, (y > 0).astype(int), ids, params, seed)
        spent = y > 0
        model.boosters["value"] = _boost(lgb.LGBMRegressor(objective="gamma", **common),
                                         x[spent], y[spent], ids[spent], params, seed)
    return _balance(model, features, y)


def _balance(model: LtvModel, features: pd.DataFrame, y: np.ndarray) -> LtvModel:
    """Rescale so predictions sum to the labels on the training window (the balance property).

    Why: a GLM with a canonical link reproduces the training total exactly, boosting with a log
    link does not. On heavy-tailed spend its Newton leaf steps shrink the mean (a third too low
    after early stopping in our simulated malls), which would show up as aggregate error however
    good the ranking. One factor, fitted on training labels only, restores the total and leaves
    the ranking unchanged.
    """
    raw = model.predict(features).sum()
    model.balance = float(y.sum() / raw) if raw > 0 and y.sum() > 0 else 1.0
    return model


def enough_for_boosting(labels: np.ndarray) -> bool:
    """Whether the training window has enough customers and buyers for LightGBM to beat BG/NBD."""
    labels = np.asarray(labels)
    return len(labels) >= MIN_CUSTOMERS_FOR_GBM and int((labels > 0).sum()) >= MIN_BUYERS_FOR_GBM
