"""Property: however forecasts fall, the promoter and channel LTV/CAC tables account for every fen
of the same per-customer amounts — each view's totals are exact sums of whole minor units, LTV is
realised plus predicted on every row, and nothing is lost or counted twice between views."""

from __future__ import annotations

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
customer = st.tuples(st.integers(0, 7), st.sampled_from(["wechat", "douyin", "poster"]),
                     st.integers(0, 10**7), AMOUNT, st.integers(0, 10**6), AMOUNT)


def _frame(rows: list[tuple]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["promoter", "channel", "realised_minor",
                                        "predicted_minor", "cac_minor",
                                        "commission_later_minor"])
    frame.insert(0, "customer_id", [f"c{i}" for i in range(len(frame))])
    frame["promoter_id"] = "P" + frame.pop("promoter").astype(str)
    frame["realised_minor"] = frame["realised_minor"].astype(float)
    frame["ltv_minor"] = frame["realised_minor"] + frame["predicted_minor"]
    return frame


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
        assert (table["ltv_minor"] == table["realised_minor"] + table["predicted_minor"]).all()
    assert int(promoters["customers"].sum()) == len(customers) == int(channels["customers"].sum())
    # a forecast moves by at most half a fen per customer when it is rounded
    assert abs(exact["predicted_minor"] - customers["predicted_minor"]).max() <= 0.5
