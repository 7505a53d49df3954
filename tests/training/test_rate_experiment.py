"""Proves the experiment report measures treated against control from the ledger: GMV, commission,
margin and retention per promoter per cycle on hand-built books, Welch intervals equal to scipy's
Welch t-test, and the predicted uplift beside them (treated members without a change count 0)."""

from __future__ import annotations

from datetime import UTC, datetime
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import ttest_ind

from settlement import rate_suggestions as rs
from settlement import rate_tables as rt
from settlement.errors import NotFound
from settlement.plan_store import store_versions
from tests.rate_store import store, suggestion
from tests.settlement.helpers import settle
from training.ltv.margin import MarginRates
from training.rate_experiment import experiment_report, welch_interval

START = datetime(2026, 3, 1, tzinfo=UTC)
END = datetime(2026, 3, 31, tzinfo=UTC)  # 30 days: one cycle
MARGINS = MarginRates(Fraction(1, 4))


def _books_with_experiment(books, plans, ev) -> str:
    with books.begin() as conn:
        store_versions(conn, plans.versions)
    events = []
    for promoter, amount, day in (("T1", "100.00", 10), ("T2", "200.00", 25), ("C1", "50.00", 5),
                                  ("C2", None, 0)):
        events += [ev.join("2026-02-01T00:00:00Z", promoter),
                   ev.touch("2026-02-01T01:00:00Z", f"c-{promoter}", promoter, kind="register")]
        if amount:
            events.append(ev.paid(f"2026-03-{day:02d}T10:00:00Z", f"o-{promoter}",
                                  f"c-{promoter}", ("s", "food", amount)))
    events.append(ev.paid("2026-02-20T10:00:00Z", "o-before", "c-T1", ("s", "food", "999.00")))
    settle(books, plans, events)
    with books.begin() as conn:
        experiment = rs.start_experiment(conn, 0.5, 7, START, "test")
        conn.execute(rt.rate_experiment_members.insert(), [
            {"experiment_id": experiment.experiment_id, "promoter_id": p, "arm": arm,
             "draw": 0.5, "joined_at": START}
            for p, arm in (("T1", "treated"), ("T2", "treated"), ("C1", "control"),
                           ("C2", "control"))])
    [sid] = store(books, [suggestion("T1", arm=rs.ExperimentArm.TREATED)], at=START,
                  experiment_id=experiment.experiment_id)
    with books.begin() as conn:
        rs.decide(conn, sid, rs.Decision(rs.SuggestionStatus.APPROVED, "ana", START, None,
                                         START, "v"))
    return experiment.experiment_id


def test_hand_built_experiment(books, plans, ev) -> None:
    experiment_id = _books_with_experiment(books, plans, ev)
    report = experiment_report(books, MARGINS, end=END, retention_days=10)
    assert (report.experiment_id, report.treated, report.control) == (experiment_id, 2, 2)
    assert report.currency == "CNY" and "Welch" in report.method
    by = {c.metric: c for c in report.comparisons}
    # GMV (the order before the start left out): treated 100, 200; control 50, 0.
    assert (by["gmv"].treated_mean, by["gmv"].control_mean) == pytest.approx((150.0, 25.0))
    assert by["gmv"].difference == pytest.approx(125.0)
    # Commission at the plan's 10 %: 10, 20 against 5, 0.
    assert by["commission"].difference == pytest.approx(15.0 - 2.5)
    # Margin at 25 % minus commission: 15, 30 against 7.5, 0.
    assert by["margin"].difference == pytest.approx(22.5 - 3.75)
    # Sold in the last 10 days (from Mar 21): T2 only.
    assert (by["retention"].treated_mean, by["retention"].control_mean) == (0.5, 0.0)
    # Welch on the GMV values themselves.
    ci = ttest_ind([100.0, 200.0], [50.0, 0.0], equal_var=False).confidence_interval(0.95)
    assert (by["gmv"].low, by["gmv"].high) == pytest.approx((ci.low, ci.high))
    # Predicted: T1's approved suggestion (margin +12.30) over two treated members.
    assert by["margin"].predicted == pytest.approx((6.15, 2.05, 10.25))
    assert by["retention"].predicted is None


def test_no_experiment_says_how_to_start_one(books) -> None:
    with pytest.raises(NotFound, match="FENRUN_RATES_CONTROL_SHARE"):
        experiment_report(books, MARGINS)


samples = st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=2, max_size=40)


@given(samples, samples)
@settings(max_examples=60, deadline=None)
def test_welch_interval_matches_scipy(treated, control) -> None:
    diff, low, high = welch_interval(treated, control)
    result = ttest_ind(treated, control, equal_var=False)
    if low is None or low == high:  # no spread in either group: scipy gives nan
        return
    ci = result.confidence_interval(0.95)
    assert (low, high) == pytest.approx((ci.low, ci.high), rel=1e-6, abs=1e-6)
    assert low <= diff <= high


def test_one_member_in_a_group_has_no_interval() -> None:
    diff, low, high = welch_interval([1.0, 2.0], [3.0])
    assert diff == pytest.approx(-1.5) and low is None and high is None
