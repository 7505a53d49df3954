"""Proves the out-of-time split is point-in-time: nothing after the cutoff reaches the features or
the training labels, and labels count exactly the orders paid inside their window."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.training.ltv_fixtures import START, synthetic_history
from training.ltv.features import customer_features, window_labels
from training.ltv.history import History, make_history
from training.ltv.split import out_of_time_split

BASE = synthetic_history(customers=250, promoters=20, days=240, seed=9)


def _with_future(history: History, cutoff: pd.Timestamp, seed: int) -> History:
    """The same history plus orders, refunds (also of old orders), touches and commissions
    dated after the cutoff."""
    rng = np.random.default_rng(seed)
    n = 40
    customers = rng.choice(history.orders["customer_id"].unique(), n)
    paid = cutoff + pd.to_timedelta(rng.uniform(1, 200_000, n), unit="s")
    new = pd.DataFrame({"order_id": [f"F{i}" for i in range(n)], "customer_id": customers,
                        "merchant_id": "M9", "paid_at": paid,
                        "gross_minor": rng.integers(100, 10**6, n), "main_category": "toys",
                        "n_categories": 1, "promoter_id": "PFUTURE"})
    old = history.orders[history.orders["paid_at"] <= cutoff].sample(20, random_state=seed)
    late_refunds = pd.DataFrame({"order_id": old["order_id"],
                                 "refunded_at": cutoff + pd.Timedelta(seconds=1),
                                 "amount_minor": old["gross_minor"]})
    touches = pd.DataFrame({"customer_id": customers, "promoter_id": "PFUTURE", "ts": paid,
                            "kind": "click", "channel": "future"})
    commissions = pd.DataFrame({"order_id": new["order_id"], "occurred_at": paid,
                                "amount_minor": 5})
    return make_history(
        "CNY", pd.concat([history.orders, new]), pd.concat([history.refunds, late_refunds]),
        pd.concat([history.touches, touches]), history.bindings,
        pd.concat([history.commissions, commissions]))


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cutoff_day=st.integers(min_value=90, max_value=200),
       horizon=st.integers(min_value=7, max_value=60), seed=st.integers(0, 2**16))
def test_events_after_the_cutoff_change_no_feature_and_no_training_label(
        cutoff_day: int, horizon: int, seed: int) -> None:
    cutoff = START + pd.Timedelta(days=cutoff_day)
    changed = _with_future(BASE, cutoff, seed)
    before = out_of_time_split(BASE, cutoff, horizon, require_complete=False)
    after = out_of_time_split(changed, cutoff, horizon, require_complete=False)
    pd.testing.assert_frame_equal(before.train.frame, after.train.frame)
    pd.testing.assert_frame_equal(before.evaluation.frame.drop(columns="actual_minor"),
                                  after.evaluation.frame.drop(columns="actual_minor"))
    assert (before.train.frame["as_of"] == cutoff - pd.Timedelta(days=horizon)).all()


def test_stacked_training_windows_also_end_at_the_cutoff() -> None:
    cutoff = START + pd.Timedelta(days=180)
    changed = _with_future(BASE, cutoff, 1)
    before = out_of_time_split(BASE, cutoff, 30, require_complete=False, windows=4, step_days=20)
    after = out_of_time_split(changed, cutoff, 30, require_complete=False, windows=4, step_days=20)
    pd.testing.assert_frame_equal(before.train.frame, after.train.frame)
    assert before.train.frame["as_of"].nunique() == 4


def test_labels_match_a_brute_force_count() -> None:
    start, end = START + pd.Timedelta(days=100), START + pd.Timedelta(days=130)
    refunded: dict[str, int] = {}
    for row in BASE.refunds.itertuples():
        if row.refunded_at <= end:
            refunded[row.order_id] = refunded.get(row.order_id, 0) + row.amount_minor
    expected: dict[str, int] = {}
    for row in BASE.orders.itertuples():
        if start < row.paid_at <= end:
            net = row.gross_minor - min(refunded.get(row.order_id, 0), row.gross_minor)
            expected[row.customer_id] = expected.get(row.customer_id, 0) + net
    got = window_labels(BASE, start, end).set_index("customer_id")["actual_minor"].to_dict()
    assert got == expected


def test_features_cover_exactly_the_customers_known_at_the_cutoff() -> None:
    cutoff = START + pd.Timedelta(days=120)
    features = customer_features(BASE, cutoff)
    known = set(BASE.orders.loc[BASE.orders["paid_at"] <= cutoff, "customer_id"])
    assert set(features["customer_id"]) == known
    assert (features["recency_days"] >= 0).all() and (features["net_total_minor"] >= 0).all()


def test_empty_history_gives_an_empty_frame() -> None:
    assert customer_features(BASE, START - pd.Timedelta(days=1)).empty
