"""Proves each profile feature on tiny hand-built frames, including promoters with nothing."""

from __future__ import annotations

import pandas as pd
import pytest

from features.profiles import FEATURE_COLUMNS, RawFrames, build_profiles

AS_OF = pd.Timestamp("2026-03-31T00:00:00Z")


def ts(text: str) -> pd.Timestamp:
    return pd.Timestamp(text.removesuffix("Z")).tz_localize("UTC")


@pytest.fixture()
def frames() -> RawFrames:
    """A sells twice (one order refunded in full after release, at 02:00 China time from A's own
    device), B is A's child and sells once, C never does anything, D joins after as-of."""
    return RawFrames.from_records(
        promoters=[
            {"promoter_id": "A", "parent_id": None, "grade": "V2", "joined_at": ts("2026-01-01Z"),
             "device_hash": "dA", "ip_hash": "iA"},
            {"promoter_id": "B", "parent_id": "A", "grade": "V1", "joined_at": ts("2026-03-01Z"),
             "device_hash": "dB", "ip_hash": "iB"},
            {"promoter_id": "C", "parent_id": None, "grade": None, "joined_at": ts("2026-03-20Z"),
             "device_hash": "dC", "ip_hash": "iC"},
            {"promoter_id": "D", "parent_id": "A", "grade": "V1", "joined_at": ts("2026-04-02Z"),
             "device_hash": "dA", "ip_hash": "iA"},
        ],
        touches=[
            {"promoter_id": "A", "customer_id": "c1", "ts": ts("2026-03-25T10:00Z"),
             "kind": "click", "channel": "wechat_chat", "device_hash": "x1", "ip_hash": "y1"},
            {"promoter_id": "A", "customer_id": "c2", "ts": ts("2026-03-26T10:00Z"),
             "kind": "click", "channel": "h5_link", "device_hash": "x2", "ip_hash": "y2"},
            {"promoter_id": "A", "customer_id": "c3", "ts": ts("2026-03-27T10:00Z"),
             "kind": "click", "channel": "mystery", "device_hash": "x3", "ip_hash": "y3"},
            {"promoter_id": "A", "customer_id": "c9", "ts": ts("2026-03-27T11:00Z"),
             "kind": "click", "channel": "h5_link", "device_hash": "x3", "ip_hash": "y3"},
            {"promoter_id": "B", "customer_id": "c4", "ts": ts("2026-04-05T10:00Z"),
             "kind": "click", "channel": "douyin", "device_hash": "x4", "ip_hash": "y4"},
        ],
        orders=[
            {"order_id": "o1", "customer_id": "c1", "paid_at": ts("2026-03-28T18:00Z"),
             "gross_minor": 10_000, "device_hash": "dA", "ip_hash": "iA",
             "confirmed_at": ts("2026-03-28T19:00Z"), "released_at": ts("2026-03-29T00:00Z")},
            {"order_id": "o2", "customer_id": "c1", "paid_at": ts("2026-02-01T04:00Z"),
             "gross_minor": 30_000, "device_hash": "x1", "ip_hash": "y1",
             "confirmed_at": ts("2026-02-05Z"), "released_at": ts("2026-02-12Z")},
            {"order_id": "o3", "customer_id": "c4", "paid_at": ts("2026-03-30T04:00Z"),
             "gross_minor": 5_000, "device_hash": "x4", "ip_hash": "y4",
             "confirmed_at": ts("2026-04-03Z"), "released_at": None},
            {"order_id": "o4", "customer_id": "c5", "paid_at": ts("2026-04-02Z"),
             "gross_minor": 99_999, "device_hash": "x5", "ip_hash": "y5",
             "confirmed_at": None, "released_at": None},
        ],
        attributions=[
            {"order_id": "o1", "promoter_id": "A", "share": 1.0},
            {"order_id": "o2", "promoter_id": "A", "share": 1.0},
            {"order_id": "o3", "promoter_id": "B", "share": 1.0},
            {"order_id": "o4", "promoter_id": "C", "share": 1.0},
        ],
        refunds=[{"order_id": "o1", "ts": ts("2026-03-30Z"), "refund_minor": 10_000},
                 {"order_id": "o2", "ts": ts("2026-04-10Z"), "refund_minor": 30_000}],
        commissions=[{"promoter_id": "A", "ts": ts("2026-02-01T04:00Z"), "amount_minor": 3_000},
                     {"promoter_id": "A", "ts": ts("2026-03-28T18:00Z"), "amount_minor": 1_000},
                     {"promoter_id": "A", "ts": ts("2026-03-30Z"), "amount_minor": -1_000}],
    )


def profile(frames: RawFrames, promoter: str) -> pd.Series:
    return build_profiles(frames, AS_OF).set_index("promoter_id").loc[promoter]


def test_schema_entity_and_event_time(frames: RawFrames) -> None:
    out = build_profiles(frames, AS_OF)
    assert list(out.columns) == ["promoter_id", "as_of", *FEATURE_COLUMNS]
    assert list(out["promoter_id"]) == ["A", "B", "C"]  # D joined after as-of
    assert (out["as_of"] == AS_OF).all()
    assert not out[list(FEATURE_COLUMNS)].isna().any().any()


def test_sales_windows_and_commission(frames: RawFrames) -> None:
    a = profile(frames, "A")
    assert a["gmv_7d"] == 100.0 and a["gmv_90d"] == 400.0 and a["gmv_total"] == 400.0
    assert a["orders_7d"] == 1 and a["orders_90d"] == 2
    assert a["commission_7d"] == 0.0 and a["commission_90d"] == 30.0
    assert a["aov_90d"] == 200.0
    assert a["touches_90d"] == 4 and a["conversion_90d"] == 0.5


def test_refunds_known_at_as_of_only(frames: RawFrames) -> None:
    a = profile(frames, "A")
    assert a["refund_rate"] == pytest.approx(0.25)  # o2's refund comes after as-of
    assert a["refunded_order_share"] == 0.5
    assert a["refund_after_release_share"] == 0.5
    assert a["quick_confirm_share"] == 0.5


def test_customers_network_and_devices(frames: RawFrames) -> None:
    a, b = profile(frames, "A"), profile(frames, "B")
    assert a["customers_acquired"] == 1 and a["customer_repeat_rate"] == 1.0
    assert a["downline_size"] == 1 and a["active_downline_30d"] == 1  # D not yet joined
    assert a["tenure_days"] == 89 and a["grade_level"] == 2
    assert a["own_device_order_share"] == 0.5 and a["shared_join_device_count"] == 0
    assert a["touch_device_diversity_90d"] == 0.75
    assert a["channel_share_h5_link"] == 0.5 and a["channel_share_other"] == 0.25
    assert b["touches_90d"] == 0  # B's only touch is after as-of
    assert b["night_order_share_90d"] == 0.0  # 04:00 UTC is noon in Shanghai
    assert a["night_order_share_90d"] == 0.5  # o1 at 18:00 UTC = 02:00 in Shanghai


def test_promoter_with_nothing_gets_neutral_values(frames: RawFrames) -> None:
    c = profile(frames, "C")
    assert c["gmv_90d"] == 0 and c["orders_total"] == 0 and c["refund_rate"] == 0
    assert c["conversion_90d"] == 0 and c["weekly_gmv_cv"] == 0 and c["customers_acquired"] == 0
    assert c["order_device_diversity_90d"] == 1.0  # no orders: no sign of shared devices
    assert c["grade_level"] == 0


def test_weekly_stability(frames: RawFrames) -> None:
    a = profile(frames, "A")
    # 12 weeks: one week with 100, one with 300, ten with 0.
    mean = 400 / 12
    std = (((100 - mean) ** 2 + (300 - mean) ** 2 + 10 * mean**2) / 12) ** 0.5
    assert a["weekly_gmv_cv"] == pytest.approx(std / mean)
    assert a["active_weeks_share"] == pytest.approx(2 / 12)


def test_online_subset_equals_batch_row(frames: RawFrames) -> None:
    batch = build_profiles(frames, AS_OF).set_index("promoter_id").loc[["A"]]
    online = build_profiles(frames, AS_OF, promoter_ids=["A"]).set_index("promoter_id")
    pd.testing.assert_frame_equal(batch, online)


def test_naive_as_of_is_refused(frames: RawFrames) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        build_profiles(frames, "2026-03-31T00:00:00")
