"""Property: however forecasts and contribution rates fall, the promoter and channel LTV/CAC tables
account for every fen of the same per-customer amounts on both bases — each view's totals are
exact sums of whole minor units, LTV is realised plus predicted on every row (GMV and
contribution), each predicted contribution is the whole predicted GMV × the customer's rate
rounded half-even once, and nothing is lost or counted twice between views."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from training.ltv.promoter_value import (
    MONEY_COLUMNS,
    promoter_value,
    snapshot_frames,
    whole_minor,
)

AMOUNT = st.floats(min_value=0, max_value=5e7, allow_nan=False)  # up to 500,000.00 in fen
# margin mix − commission rate: from "all commission, no margin" (-1) to a 100 % margin
RATE = st.fractions(min_value=-1, max_value=1, max_denominator=10**6)
customer = st.tuples(st.integers(0, 7), st.sampled_from(["wechat", "douyin", "poster"]),
                     st.integers(0, 10**7), AMOUNT, st.integers(0, 10**6), AMOUNT,
                     st.integers(-10**6, 10**7), RATE)


def _frame(rows: list[tuple]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["promoter", "channel", "gmv_realised_minor",
                                        "gmv_predicted_minor", "cac_minor",
                                        "commission_later_minor", "contribution_realised_minor",
                                        "contribution_rate"])
    frame.insert(0, "customer_id", [f"c{i}" for i in range(len(frame))])
    frame["promoter_id"] = "P" + frame.pop("promoter").astype(str)
    frame["gmv_realised_minor"] = frame["gmv_realised_minor"].astype(float)
    return frame


def _half_even(value: Fraction) -> int:
    return round(value)  # Python rounds a Fraction half to even


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(customer, min_size=1, max_size=40))
def test_every_view_sums_the_same_whole_fen(rows: list[tuple]) -> None:
    customers = _frame(rows)
    value = promoter_value(customers, replicates=20, seed=3)
    promoters, channels = snapshot_frames(value, pd.Timestamp("2026-04-01T00:00Z"), 90, "CNY")
    exact = whole_minor(customers)
    for name in MONEY_COLUMNS:
        assert promoters[name].dtype == np.int64 and channels[name].dtype == np.int64
        assert int(promoters[name].sum()) == int(channels[name].sum()) == int(exact[name].sum())
    for table in (promoters, channels, value.customers):
        assert (table["gmv_ltv_minor"]
                == table["gmv_realised_minor"] + table["gmv_predicted_minor"]).all()
        assert (table["contribution_ltv_minor"] == table["contribution_realised_minor"]
                + table["contribution_predicted_minor"]).all()
    for table in (promoters, channels):
        assert (table["basis"] == "margin").all()
    assert int(promoters["customers"].sum()) == len(customers) == int(channels["customers"].sum())
    # a forecast moves by at most half a fen per customer when it is rounded
    assert abs(exact["gmv_predicted_minor"] - customers["gmv_predicted_minor"]).max() <= 0.5
    # and its contribution is rounded once, from the whole predicted GMV, half to even
    assert list(exact["contribution_predicted_minor"]) == [
        _half_even(int(p) * r) for p, r in zip(exact["gmv_predicted_minor"],
                                               customers["contribution_rate"], strict=True)]
