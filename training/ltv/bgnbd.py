"""BG/NBD purchase counts with Gamma-Gamma spend: the classic probabilistic LTV baseline.

Implemented here with numpy/scipy (the `lifetimes` package is unmaintained). Formulas:

BG/NBD (Fader, Hardie & Lee 2005, "Counting Your Customers the Easy Way: An Alternative to the
Pareto/NBD Model", Marketing Science 24(2); equations as in Fader & Hardie's note "Implementing
the BG/NBD Model for Customer Base Analysis in Excel"). A customer with x repeat purchases, the
last at t_x, observed for T since the first purchase:

    L(r, α, a, b | x, t_x, T) = A1 · A2 · [ A3 + δ(x>0) · A4 ]
    ln A1 = ln Γ(r + x) − ln Γ(r) + r ln α
    ln A2 = ln Γ(a + b) + ln Γ(b + x) − ln Γ(b) − ln Γ(a + b + x)
    ln A3 = −(r + x) ln(α + T)
    ln A4 = ln a − ln(b + x − 1) − (r + x) ln(α + t_x)

Expected purchases in (T, T + t] (their eq. 10):

    E[Y(t) | x, t_x, T] = (a + b + x − 1)/(a − 1) · [1 − ((α + T)/(α + T + t))^(r+x)
                          · ₂F₁(r + x, b + x; a + b + x − 1; t/(α + T + t))]
                          / (1 + δ(x>0) · a/(b + x − 1) · ((α + T)/(α + t_x))^(r+x))

Gamma-Gamma (Fader, Hardie & Lee 2005, "RFM and CLV: Using Iso-Value Curves for Customer Base
Analysis", JMR 42(4); Fader & Hardie 2013, "The Gamma-Gamma Model of Monetary Value"). With n
purchases of mean value m:

    ln L(p, q, γ | m, n) = ln Γ(pn + q) − ln Γ(pn) − ln Γ(q) + q ln γ + (pn − 1) ln m
                           + pn ln n − (pn + q) ln(γ + n m)
    E[M | m, n] = p (γ + n m) / (p n + q − 1)

Parameters are fitted by maximum likelihood on their logarithms (so they stay positive) with
L-BFGS-B. Time is in weeks so α stays of order one. BG/NBD needs a > 1 for a finite E[Y]; the
fit bounds a above 1 for that reason. Gamma-Gamma needs q > 1.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.optimize import minimize
from scipy.special import betaln, gammaln, hyp2f1

DAYS_PER_UNIT = 7.0
_LOG_BOUNDS = [(-9.0, 9.0)] * 4
_MIN_A = 1.0 + 1e-6


def bgnbd_log_likelihood(params: np.ndarray, x: np.ndarray, t_x: np.ndarray,
                         T: np.ndarray) -> np.ndarray:  # noqa: N803 - the paper's names
    """Per-customer log-likelihood of BG/NBD at (r, alpha, a, b)."""
    r, alpha, a, b = params
    ln_a1 = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
    ln_a2 = betaln(a, b + x) - betaln(a, b)
    ln_a3 = -(r + x) * np.log(alpha + T)
    repeat = x > 0
    ln_a4 = np.where(
        repeat,
        np.log(a) - np.log(np.where(repeat, b + x - 1, 1.0)) - (r + x) * np.log(alpha + t_x),
        -np.inf,
    )
    return ln_a1 + ln_a2 + np.logaddexp(ln_a3, ln_a4)


def gamma_gamma_log_likelihood(params: np.ndarray, mean_value: np.ndarray,
                               n: np.ndarray) -> np.ndarray:
    """Per-customer log-likelihood of Gamma-Gamma at (p, q, gamma)."""
    p, q, gamma = params
    return (gammaln(p * n + q) - gammaln(p * n) - gammaln(q) + q * np.log(gamma)
            + (p * n - 1) * np.log(mean_value) + p * n * np.log(n)
            - (p * n + q) * np.log(gamma + n * mean_value))


def _fit(negative_ll, start: np.ndarray, bounds: list[tuple[float, float]]) -> np.ndarray:
    result = minimize(negative_ll, start, method="L-BFGS-B", bounds=bounds)
    return np.exp(result.x)


@dataclass(frozen=True)
class BgNbd:
    """Fitted BG/NBD parameters (time unit: weeks)."""

    r: float
    alpha: float
    a: float
    b: float

    @staticmethod
    def fit(x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> BgNbd:  # noqa: N803
        """Maximum likelihood on (repeat purchases, time of last, observed time) in weeks."""
        x, t_x, T = (np.asarray(v, dtype="float64") for v in (x, t_x, T))
        scale = max(float(np.mean(T)), 1e-6)

        def nll(log_params: np.ndarray) -> float:
            r, alpha, a, b = np.exp(log_params)
            return -float(np.sum(bgnbd_log_likelihood(
                np.array([r, alpha * scale, a, b]), x, t_x, T))) / len(x)

        bounds = [(-9.0, 9.0), (-9.0, 9.0), (np.log(_MIN_A), 9.0), (-9.0, 9.0)]
        r, alpha_scaled, a, b = _fit(nll, np.array([0.0, 0.0, np.log(2.0), 0.0]), bounds)
        return BgNbd(float(r), float(alpha_scaled * scale), float(a), float(b))

    def expected_purchases(self, t: float, x: np.ndarray, t_x: np.ndarray,
                           T: np.ndarray) -> np.ndarray:  # noqa: N803
        """E[purchases in (T, T + t]] per customer (Fader, Hardie & Lee 2005, eq. 10)."""
        r, alpha, a, b = self.r, self.alpha, self.a, self.b
        x, t_x, T = (np.asarray(v, dtype="float64") for v in (x, t_x, T))
        head = (a + b + x - 1) / (a - 1)
        z = t / (alpha + T + t)
        tail = 1 - ((alpha + T) / (alpha + T + t)) ** (r + x) * hyp2f1(r + x, b + x,
                                                                        a + b + x - 1, z)
        return head * tail / (1 + self._odds_dead(x, t_x, T))

    def p_alive(self, x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> np.ndarray:  # noqa: N803
        """Probability the customer is still active at T."""
        return 1 / (1 + self._odds_dead(np.asarray(x, float), np.asarray(t_x, float),
                                        np.asarray(T, float)))

    def _odds_dead(self, x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> np.ndarray:  # noqa: N803
        repeat = x > 0
        log_odds = (np.log(self.a) - np.log(np.where(repeat, self.b + x - 1, 1.0))
                    + (self.r + x) * (np.log(self.alpha + T) - np.log(self.alpha + t_x)))
        return np.where(repeat, np.exp(np.minimum(log_odds, 700)), 0.0)


@dataclass(frozen=True)
class GammaGamma:
    """Fitted Gamma-Gamma spend parameters (values in minor units)."""

    p: float
    q: float
    gamma: float

    @staticmethod
    def fit(mean_value: np.ndarray, n: np.ndarray) -> GammaGamma:
        """Maximum likelihood on customers with a positive mean value."""
        mean_value, n = np.asarray(mean_value, float), np.asarray(n, float)
        keep = (mean_value > 0) & (n > 0)
        mean_value, n = mean_value[keep], n[keep]
        scale = float(np.mean(mean_value)) if len(mean_value) else 1.0

        def nll(log_params: np.ndarray) -> float:
            p, q, gamma = np.exp(log_params)
            return -float(np.sum(gamma_gamma_log_likelihood(
                np.array([p, q, gamma]), mean_value / scale, n))) / max(len(n), 1)

        bounds = [(-9.0, 9.0), (np.log(1.0 + 1e-6), 9.0), (-9.0, 9.0)]
        p, q, gamma = _fit(nll, np.array([0.0, np.log(3.0), 0.0]), bounds)
        return GammaGamma(float(p), float(q), float(gamma * scale))

    def expected_value(self, mean_value: np.ndarray, n: np.ndarray) -> np.ndarray:
        """E[value of a purchase]; customers with no positive history get the population mean."""
        mean_value, n = np.asarray(mean_value, float), np.asarray(n, float)
        known = (mean_value > 0) & (n > 0)
        m, k = np.where(known, mean_value, 0.0), np.where(known, n, 0.0)
        return self.p * (self.gamma + k * m) / (self.p * k + self.q - 1)


@dataclass(frozen=True)
class BgNbdValue:
    """BG/NBD × Gamma-Gamma: expected net revenue over a horizon from RFM columns."""

    counts: BgNbd
    spend: GammaGamma

    @staticmethod
    def fit(rfm: dict[str, np.ndarray]) -> BgNbdValue:
        """Fit both models on the RFM arrays of `rfm_arrays`."""
        counts = BgNbd.fit(rfm["x"], rfm["t_x"], rfm["T"])
        spend = GammaGamma.fit(rfm["mean_value"], rfm["n"])
        return BgNbdValue(counts, spend)

    def predict(self, rfm: dict[str, np.ndarray], horizon_days: float) -> dict[str, np.ndarray]:
        """Expected purchases, P(alive), expected value per purchase and their product."""
        t = horizon_days / DAYS_PER_UNIT
        purchases = self.counts.expected_purchases(t, rfm["x"], rfm["t_x"], rfm["T"])
        alive = self.counts.p_alive(rfm["x"], rfm["t_x"], rfm["T"])
        value = self.spend.expected_value(rfm["mean_value"], rfm["n"])
        return {"bg_purchases": purchases, "bg_p_alive": alive, "gg_value_minor": value,
                "bg_value_minor": purchases * value}


def rfm_arrays(features: Any) -> dict[str, np.ndarray]:
    """BG/NBD inputs from a customer feature frame (see `training.ltv.features`), in weeks.

    `features` is a DataFrame, typed loosely so this module stays free of pandas."""
    def column(name: str) -> np.ndarray:
        return np.asarray(features[name], dtype=np.float64)

    n = column("n_orders")
    return {"x": n - 1, "t_x": column("active_span_days") / DAYS_PER_UNIT,
            "T": column("tenure_days") / DAYS_PER_UNIT, "mean_value": column("avg_net_minor"),
            "n": n}
