"""The calendar level of a forecast window: weekday and promotion effects estimated from history.

Why: customer models learn the spending level of the window they are trained on. A model trained
on a quiet quarter under-forecasts a quarter holding 双11, and one trained on a quarter with 618
over-forecasts a quiet one. The dates of promotions are known in advance (`calendar.py`); what
they are worth is not, so it is estimated here, from the history before the cutoff only:

    daily gross revenue (mall's local days) ~ Poisson, log link:
        log E[revenue_d] = trend(d) + weekday(d) + Σ_kind effect_kind · [d is a `kind` day]

with a piecewise-linear trend (knots every 28 days, lightly ridge-penalised) that soaks up the
mall's growth and is then dropped: growth of the customer base is the customer models' business,
only the calendar carries over to a window. A day's multiplier is weekday × kind (1 for an
ordinary day of average weekday); a kind the history has never seen gets 1 (no evidence).

`factors` turns that into one number per feature row: the mean multiplier over the row's forecast
window (as_of, as_of + h] divided by the mean multiplier over the period its history was observed
in (each customer's (first order, as_of], pooled: BG/NBD and the RFM features average their rates
over it). Labels are divided by it to train, predictions multiplied by it. Without a calendar the
factor is exactly 1 (stationary, the behaviour for imported books).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date

import numpy as np
import pandas as pd

from training.ltv.calendar import NO_CALENDAR, PromotionCalendar

log = logging.getLogger(__name__)
MIN_DAYS = 56  # eight weeks: fewer cannot tell a weekday from a trend from a promotion
KNOT_DAYS = 28
TREND_PENALTY = 1.0  # ridge on the trend's slope changes (labels scaled to mean 1 per day)
MAX_ITERATIONS = 50
TOLERANCE = 1e-9
HOUR = pd.Timedelta(hours=1)


@dataclass(frozen=True)
class Seasonality:
    """Multipliers per weekday (Monday first, mean 1) and per promotion kind, in the calendar's
    time zone; `kinds` holds only kinds estimated from history."""

    calendar: PromotionCalendar = NO_CALENDAR
    weekday: tuple[float, ...] = (1.0,) * 7
    kinds: dict[str, float] = field(default_factory=dict)
    fitted_days: int = 0

    @property
    def stationary(self) -> bool:
        return self.calendar.empty or self.fitted_days == 0

    def hourly(self, start: pd.Timestamp, end: pd.Timestamp) -> np.ndarray:
        """Multiplier of each hour in [floor(start), end), from the hour's local day."""
        hours = pd.date_range(pd.Timestamp(start).floor("h"), pd.Timestamp(end) - HOUR,
                              freq="h", tz="UTC")
        local = hours.tz_convert(self.calendar.timezone)
        days = local.normalize()
        per_day = {day: self._day(day.date(), day.weekday()) for day in days.unique()}
        return np.array([per_day[day] for day in days], dtype=np.float64)

    def _day(self, day: date, weekday: int) -> float:
        kind = self.calendar.days.get(day)
        return self.weekday[weekday] * (self.kinds.get(kind, 1.0) if kind else 1.0)

    def window_index(self, start: pd.Timestamp, end: pd.Timestamp) -> float:
        """Mean multiplier over (start, end]; 1 for an empty window."""
        values = self.hourly(start, end)
        return float(values.mean()) if len(values) else 1.0

    def exposure_index(self, as_of: pd.Timestamp, tenure_days: np.ndarray) -> float:
        """Mean multiplier over the customers' observed periods (first order, as_of], pooled:
        hour t weighs as many customers as had bought by then."""
        tenure_days = np.asarray(tenure_days, float)
        tenure_days = tenure_days[np.isfinite(tenure_days)]
        if not len(tenure_days) or tenure_days.max() <= 0:
            return 1.0
        start = as_of - pd.Timedelta(days=float(tenure_days.max()))
        values = self.hourly(start, as_of)
        hour_end_days = (len(values) - np.arange(len(values)) - 1) / 24.0  # days before as_of
        # customers whose first order came at least that long before as_of
        watching = len(tenure_days) - np.searchsorted(np.sort(tenure_days), hour_end_days,
                                                      side="left")
        total = watching.sum()
        return float((values * watching).sum() / total) if total > 0 else 1.0

    def factors(self, features: pd.DataFrame, horizon_days: float) -> np.ndarray:
        """Per row: window index of (as_of, as_of + h] over the exposure index at as_of (see the
        module docstring). Ones when stationary or when the frame has no `as_of` column."""
        out = np.ones(len(features))
        if self.stationary or "as_of" not in features or not len(features):
            return out
        as_of = pd.to_datetime(features["as_of"], utc=True).dt.tz_localize(None).to_numpy()
        horizon = pd.Timedelta(days=float(horizon_days))
        for cutoff in np.unique(as_of):
            rows = as_of == cutoff
            at = pd.Timestamp(cutoff, tz="UTC")
            ahead = self.window_index(at, at + horizon)
            behind = self.exposure_index(at, features.loc[rows, "tenure_days"].to_numpy())
            out[rows] = ahead / behind
        return out


STATIONARY = Seasonality()


def daily_revenue(orders: pd.DataFrame, timezone: str, until: pd.Timestamp) -> pd.Series:
    """Gross revenue per full local day whose end is at or before `until` (zeros kept)."""
    paid = orders.loc[orders["paid_at"] <= until]
    if paid.empty:
        return pd.Series(dtype="float64")
    local = paid["paid_at"].dt.tz_convert(timezone)
    first = local.min().normalize() + pd.Timedelta(days=1)  # first full local day
    last = pd.Timestamp(until).tz_convert(timezone).normalize() - pd.Timedelta(days=1)
    if last < first:
        return pd.Series(dtype="float64")
    totals = paid["gross_minor"].groupby(local.dt.normalize()).sum()
    days = pd.date_range(first, last, freq="D", tz=timezone)
    return totals.reindex(days, fill_value=0).astype("float64")


def _design(days: pd.DatetimeIndex, kinds: list[str],
            calendar: PromotionCalendar) -> tuple[np.ndarray, np.ndarray]:
    """Columns: intercept, trend hinges, Tuesday..Sunday, one per kind; and the ridge per column."""
    t = np.arange(len(days), dtype=np.float64) / KNOT_DAYS
    knots = np.arange(1, int(t[-1]) + 1) if len(t) else np.zeros(0)
    trend = [t] + [np.maximum(t - k, 0.0) for k in knots]
    weekday = [(days.weekday == w).astype(float) for w in range(1, 7)]
    kind_of = np.array([calendar.days.get(d.date(), "") for d in days])
    promo = [(kind_of == k).astype(float) for k in kinds]
    x = np.column_stack([np.ones(len(days)), *trend, *weekday, *promo])
    penalty = np.zeros(x.shape[1])
    penalty[2:1 + len(trend)] = TREND_PENALTY  # slope changes only: the base slope is free
    return x, penalty


def _poisson(x: np.ndarray, y: np.ndarray, penalty: np.ndarray) -> np.ndarray:
    """Penalised Poisson regression (log link) by iteratively reweighted least squares."""
    beta = np.zeros(x.shape[1])
    beta[0] = np.log(max(y.mean(), 1e-9))
    for _ in range(MAX_ITERATIONS):
        eta = np.clip(x @ beta, -30, 30)
        mu = np.exp(eta)
        z = eta + (y - mu) / mu
        new = np.linalg.solve(x.T @ (x * mu[:, None]) + np.diag(penalty), x.T @ (mu * z))
        if np.max(np.abs(new - beta)) < TOLERANCE:
            return new
        beta = new
    return beta


def fit_seasonality(orders: pd.DataFrame, calendar: PromotionCalendar,
                    until: pd.Timestamp) -> Seasonality:
    """Estimate weekday and promotion-kind multipliers from orders paid by `until` (only)."""
    if calendar.empty:
        return STATIONARY
    revenue = daily_revenue(orders, calendar.timezone, pd.Timestamp(until))
    if len(revenue) < MIN_DAYS or revenue.sum() <= 0:
        log.warning("only %d full days of history: calendar level not estimated (stationary)",
                    len(revenue))
        return Seasonality(calendar)
    days = pd.DatetimeIndex(revenue.index)
    seen = {calendar.days[d.date()] for d in days if d.date() in calendar.days}
    kinds = [k for k in calendar.kinds if k in seen]
    unseen = [k for k in calendar.kinds if k not in seen]
    if unseen:
        log.info("promotion kinds %s have no day in the history: multiplier 1", unseen)
    x, penalty = _design(days, kinds, calendar)
    y = revenue.to_numpy() / revenue.mean()
    beta = _poisson(x, y, penalty)
    weekday = np.exp(np.concatenate([[0.0], beta[-6 - len(kinds):len(beta) - len(kinds)]]))
    weekday = weekday / weekday.mean()
    effects = {k: float(np.exp(b)) for k, b in zip(kinds, beta[len(beta) - len(kinds):],
                                                   strict=True)}
    return Seasonality(calendar, tuple(map(float, weekday)), effects, len(revenue))
