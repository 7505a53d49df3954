"""The rate policy's inputs from the books: tenure, level, zero share, main channel and category,
children, activity and evidence, each from facts known by the as-of instant only."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from features.rate_inputs import RateFrames, rate_inputs, sales_frame

AS_OF = datetime(2026, 4, 1, tzinfo=UTC)
DAY = timedelta(days=1)


def _frames() -> RateFrames:
    promoters = pd.DataFrame({
        "promoter_id": ["A", "B", "C", "LATE"],
        "parent_id": [None, "A", "A", None],
        "grade": ["V3", "V1", None, "V2"],
        "joined_at": [AS_OF - 200 * DAY, AS_OF - 45 * DAY, AS_OF - 100 * DAY, AS_OF + DAY]})
    touches = pd.DataFrame({
        "promoter_id": ["A", "A", "A", "B", "C"],
        "ts": [AS_OF - 5 * DAY, AS_OF - 4 * DAY, AS_OF - 3 * DAY, AS_OF - 40 * DAY,
               AS_OF + DAY],  # C's only touch is after as_of
        "channel": ["wechat_group", "wechat_group", "qr_poster", "h5_link", "wechat_chat"]})
    orders = pd.DataFrame({"order_id": ["o1", "o2", "o3", "o4"],
                           "paid_at": [AS_OF - 10 * DAY, AS_OF - 70 * DAY, AS_OF - 40 * DAY,
                                       AS_OF + DAY],
                           "gross_minor": [10_000, 30_000, 5_000, 99_999]})
    lines = pd.DataFrame({"order_id": ["o1", "o1", "o2", "o3", "o4"],
                          "category": ["beauty", "food", "beauty", "electronics", "food"],
                          "amount_minor": [8_000, 2_000, 30_000, 5_000, 99_999]})
    shares = pd.DataFrame({"order_id": ["o1", "o2", "o3", "o4"],
                           "promoter_id": ["A", "A", "B", "A"], "share": [1.0, 1.0, 0.5, 1.0]})
    refunded = pd.DataFrame({"order_id": ["o2"], "amount_minor": [10_000]})
    return RateFrames(promoters, touches, sales_frame(orders, lines, shares, refunded))


def test_inputs_are_computed_from_what_was_known_at_as_of() -> None:
    out = rate_inputs(_frames(), AS_OF, cycle_days=30, history_cycles=12).set_index(
        "promoter_id")
    assert list(out.index) == ["A", "B", "C"]  # LATE joined after as_of
    a, b, c = out.loc["A"], out.loc["B"], out.loc["C"]
    assert (a["tenure"], b["tenure"], c["tenure"]) == (6, 1, 3)
    assert (a["grade"], b["grade"], c["grade"]) == (2, 0, 0)
    assert (a["n_children"], a["has_parent"], b["has_parent"]) == (2, 0, 1)
    assert a["channel_name"] == "wechat_group" and a["category_name"] == "beauty"
    # A kept 100 + 200 yuan in 7 cycles (tenure 6 -> 7 cycles in the window), sold in 2 of them
    assert a["kept_yuan_per_cycle"] == pytest.approx(300 / 7)
    assert a["zero_share"] == pytest.approx(5 / 7)
    assert a["orders"] == 2 and a["active"] == 1
    assert b["category_name"] == "electronics" and b["kept_yuan_per_cycle"] == pytest.approx(
        25 / 2)
    assert b["active"] == 1  # sold 40 days ago: inside the last two 30-day cycles
    # C never sold, and its only touch comes after as_of: inactive, no channel, zero level
    assert (c["active"], c["channel"], c["kept_yuan_per_cycle"], c["zero_share"]) == (
        0, -1, 0.0, 1.0)


def test_unknown_categories_get_the_default_margin_and_bad_settings_are_refused() -> None:
    out = rate_inputs(_frames(), AS_OF, margins={"beauty": 0.5}, default_margin=0.2)
    margins = dict(zip(out["promoter_id"], out["margin_rate"], strict=True))
    assert margins == {"A": 0.5, "B": 0.2, "C": 0.2}
    with pytest.raises(ValueError, match="history_cycles"):
        rate_inputs(_frames(), AS_OF, history_cycles=0)
