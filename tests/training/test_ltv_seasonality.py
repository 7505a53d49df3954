"""Proves the calendar level: promotion dates parse (and bad files fail by name), weekday and
promotion multipliers are recovered from daily revenue using nothing after the cutoff, no calendar
means exactly stationary, and a calendar fixes the level of a promotion quarter that the quiet
training window could not foresee."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from tests.training.ltv_fixtures import START, synthetic_history
from training.ltv.calendar import (
    NO_CALENDAR,
    CalendarError,
    PromotionCalendar,
    load_calendar,
    parse_calendar,
)
from training.ltv.evaluation import BGNBD, candidate_metrics, evaluate_ltv
from training.ltv.metrics import beats
from training.ltv.model import LtvParams
from training.ltv.pyfunc import LtvPyfunc, as_of_param
from training.ltv.seasonality import STATIONARY, daily_revenue, fit_seasonality

SHANGHAI = "Asia/Shanghai"
WEEKDAY = np.array([0.9, 0.88, 0.92, 0.97, 1.08, 1.25, 1.2])
FAST = LtvParams(n_estimators=150, learning_rate=0.08)


def _daily_orders(days: int, promos: dict[int, float], seed: int = 1,
                  per_day: float = 400.0) -> pd.DataFrame:
    """Orders of 1,000 minor units at local noon, Poisson per day: growing trend x weekday x
    promotion multiplier (day numbers count from 2026-01-01 in China time)."""
    rng = np.random.default_rng(seed)
    local_days = pd.date_range("2026-01-01", periods=days, freq="D", tz=SHANGHAI)
    mean = per_day * (1 + np.arange(days) / 300) * WEEKDAY[local_days.weekday]
    mean *= np.array([promos.get(d, 1.0) for d in range(days)])
    counts = rng.poisson(mean)
    paid = np.repeat(local_days + pd.Timedelta(hours=12), counts).tz_convert("UTC")
    return pd.DataFrame({"paid_at": paid, "gross_minor": 1000})


def _calendar(main: list[int], warmup: list[int] = (), zone: str = SHANGHAI) -> PromotionCalendar:
    first = date(2026, 1, 1)
    days = {first + pd.Timedelta(days=d).to_pytimedelta(): "main" for d in main}
    days.update({first + pd.Timedelta(days=d).to_pytimedelta(): "warmup" for d in warmup})
    return PromotionCalendar(zone, days)


def test_calendar_file_lists_days_and_ranges(tmp_path) -> None:
    text = """
timezone: Asia/Shanghai
promotions:
  - {date: 2026-11-11, kind: main, name: 双11}
  - {from: 2026-11-01, to: 2026-11-03, kind: warmup}
  - {date: 2026-11-11, kind: main}
"""
    path = tmp_path / "calendar.yaml"
    path.write_text(text, encoding="utf-8")
    calendar = load_calendar(path)
    assert calendar.timezone == SHANGHAI and calendar.kinds == ["main", "warmup"]
    assert calendar.days[date(2026, 11, 2)] == "warmup" and len(calendar.days) == 4
    assert load_calendar(None) is NO_CALENDAR and NO_CALENDAR.empty


@pytest.mark.parametrize(("text", "names"), [
    ("promotions: [{date: 2026-13-01}]", "promotions[0].date"),
    ("promotions: [{from: 2026-01-01, to: 2026-06-01}]", "spans 152 days"),
    ("promotions: [{kind: main}]", "needs `date`"),
    ("promotions: [{date: 2026-11-11, kind: a}, {date: 2026-11-11, kind: b}]", "already a 'a'"),
    ("timezone: Mars/Olympus\npromotions: []", "timezone"),
    ("promotions: {date: 2026-11-11}", "not a list"),
])
def test_malformed_calendars_name_the_field(text: str, names: str) -> None:
    with pytest.raises(CalendarError, match=names.replace("[", r"\[").replace("]", r"\]")):
        parse_calendar(text)


def test_multipliers_are_recovered_from_daily_revenue() -> None:
    promos = {66: 3.0, 120: 3.0, 170: 3.0, 118: 1.5, 119: 1.5}
    orders = _daily_orders(200, promos)
    season = fit_seasonality(orders, _calendar([66, 120, 170], [118, 119]),
                             pd.Timestamp("2026-07-19T16:00Z"))
    assert season.kinds["main"] == pytest.approx(3.0, rel=0.08)
    assert season.kinds["warmup"] == pytest.approx(1.5, rel=0.1)
    assert np.mean(season.weekday) == pytest.approx(1.0)
    np.testing.assert_allclose(season.weekday, WEEKDAY / WEEKDAY.mean(), rtol=0.05)
    # The trend (the mall grows a third over the period) is not mistaken for a calendar effect.
    quiet = season.window_index(pd.Timestamp("2026-04-01T00:00Z"),
                                pd.Timestamp("2026-04-29T00:00Z"))
    assert quiet == pytest.approx(1.0, abs=0.01)


def test_daily_revenue_keeps_only_full_local_days_by_the_cutoff() -> None:
    orders = _daily_orders(20, {})
    midnight = pd.Timestamp("2026-01-11T00:00", tz=SHANGHAI)
    days = daily_revenue(orders, SHANGHAI, midnight)
    # day 0 holds the first order (not a full day of history); 01-10 ends exactly at the cutoff
    assert days.index[0].date() == date(2026, 1, 2) and days.index[-1].date() == date(2026, 1, 10)
    late_morning = daily_revenue(orders, SHANGHAI, midnight + pd.Timedelta(hours=11))
    assert late_morning.index[-1].date() == date(2026, 1, 10)  # 01-11 is not over yet


def test_orders_after_the_cutoff_do_not_move_the_fit() -> None:
    until = pd.Timestamp("2026-05-01T00:00Z")
    orders = _daily_orders(120, {66: 3.0})
    later = _daily_orders(240, {66: 3.0, 130: 20.0}, seed=2)
    later = later[later["paid_at"] > until]
    calendar = _calendar([66, 130])
    before = fit_seasonality(orders, calendar, until)
    after = fit_seasonality(pd.concat([orders, later], ignore_index=True), calendar, until)
    assert before == after
    # the day after the cutoff is a known promotion date, but its size is unknown: none leaks
    assert set(after.kinds) == {"main"} and after.kinds["main"] < 4


def test_no_calendar_is_exactly_stationary() -> None:
    orders = _daily_orders(120, {66: 3.0})
    assert fit_seasonality(orders, NO_CALENDAR, pd.Timestamp("2026-05-01T00:00Z")) is STATIONARY
    short = fit_seasonality(orders, _calendar([10]), pd.Timestamp("2026-02-01T00:00Z"))
    assert short.stationary
    frame = pd.DataFrame({"as_of": [pd.Timestamp("2026-04-01T00:00Z")] * 3,
                          "tenure_days": [1.0, 30.0, 60.0]})
    assert (STATIONARY.factors(frame, 90) == 1.0).all() and (short.factors(frame, 90) == 1).all()


def test_factor_follows_the_forecast_window() -> None:
    until = pd.Timestamp("2026-07-01T00:00Z")
    season = fit_seasonality(_daily_orders(181, {66: 3.0, 120: 3.0}),
                             _calendar([66, 120, 200, 210, 220]), until)
    quiet_after_peak = pd.DataFrame({"as_of": [until], "tenure_days": [150.0]})
    busy_ahead = pd.DataFrame({"as_of": [until + pd.Timedelta(days=10)], "tenure_days": [160.0]})
    assert season.factors(quiet_after_peak, 14)[0] < 1.0  # no peak ahead, one behind
    assert season.factors(busy_ahead, 90)[0] > 1.03  # three x3 days ahead: ~ +6 % / 1.02
    assert (season.factors(busy_ahead.drop(columns="as_of"), 90) == 1.0).all()
    unseen = PromotionCalendar("UTC", {date(2026, 8, 1): "never-seen"})
    assert fit_seasonality(_daily_orders(181, {}), unseen, until).kinds == {}


# A mall whose history holds two promotion days and a quiet quarter before the cutoff
# (2026-09-01, day 243), then four promotion days in the quarter being forecast.
PROMOTION_DAYS = [66, 120, 280, 300, 314, 320]
PROMO_MALL = {day: 4.0 for day in PROMOTION_DAYS}
CUTOFF = pd.Timestamp("2026-09-01T00:00Z")


@pytest.fixture(scope="module")
def promo_history():
    return synthetic_history(promotions=PROMO_MALL)


def test_a_calendar_fixes_the_level_of_a_promotion_quarter(promo_history) -> None:
    calendar = PromotionCalendar("UTC", {(START + pd.Timedelta(days=d)).date(): "main"
                                         for d in PROMOTION_DAYS})
    blind = evaluate_ltv(promo_history, CUTOFF, 90, params=FAST, kind="tweedie")
    seen = evaluate_ltv(promo_history, CUTOFF, 90, params=FAST, kind="tweedie",
                        calendar=calendar)
    actual = seen.predictions["actual"].sum()
    # Without the calendar the quiet training quarter sets the level: a clear under-forecast.
    assert blind.predictions["predicted"].sum() < 0.93 * actual
    assert seen.model.seasonality.kinds["main"] > 2.5
    assert candidate_metrics(seen)["aggregate_error"] < candidate_metrics(blind)["aggregate_error"]
    assert beats(candidate_metrics(seen), seen.metrics[BGNBD])
    # Ranking is untouched: one factor per window.
    assert candidate_metrics(seen)["gini"] == pytest.approx(candidate_metrics(blind)["gini"],
                                                            abs=0.03)
    # The pyfunc with the cutoff as `as_of` predicts what the model predicted.
    held = seen.split.evaluation.frame
    wrapped = LtvPyfunc(seen.model).predict(None, held.drop(columns="as_of"), as_of_param(held))
    np.testing.assert_allclose(wrapped["predicted_minor"], seen.predictions["predicted"])
