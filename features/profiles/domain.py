"""Value types of the promoter profiles: the raw frames the transforms read, and the feature list.

`RawFrames` is the only thing the pure transforms see. It is produced by the repository (from the
settlement database) or built by hand in tests; either way `restrict_to(frames, as_of)` is applied
before any feature is computed, so a frame that contains the future cannot leak it.

Conventions of every frame: instants are tz-aware UTC pandas timestamps; money is integer minor
units (fen) until a transform turns it into a float model input in major units (yuan).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import pandas as pd

WINDOWS_D = (7, 30, 90)
# Fixed so the feature schema does not depend on which channels happen to appear in the data.
CHANNELS = (
    "wechat_chat", "wechat_moments", "wechat_group", "qr_poster", "h5_link", "xiaohongshu",
    "douyin",
)
NIGHT_HOURS = range(0, 6)  # local hours counted as night-time
STABILITY_WEEKS = 12
QUICK_CONFIRM_S = 86_400

SCHEMAS: dict[str, tuple[str, ...]] = {
    "promoters": ("promoter_id", "parent_id", "grade", "joined_at", "device_hash", "ip_hash"),
    "touches": ("promoter_id", "customer_id", "ts", "kind", "channel", "device_hash", "ip_hash"),
    "orders": ("order_id", "customer_id", "paid_at", "gross_minor", "device_hash", "ip_hash",
               "confirmed_at", "released_at"),
    "attributions": ("order_id", "promoter_id", "share"),
    "refunds": ("order_id", "ts", "refund_minor"),
    "commissions": ("promoter_id", "ts", "amount_minor"),
}
TIME_COLUMNS = {"joined_at", "ts", "paid_at", "confirmed_at", "released_at"}


def _window_names(prefix: str) -> list[str]:
    return [f"{prefix}_{w}d" for w in WINDOWS_D]


FEATURE_COLUMNS: tuple[str, ...] = (
    *_window_names("gmv"), *_window_names("orders"), *_window_names("commission"),
    "gmv_total", "orders_total", "touches_90d", "conversion_90d", "aov_90d",
    "refund_rate", "refunded_order_share", "refund_after_release_share", "quick_confirm_share",
    "customers_acquired", "customer_repeat_rate",
    "downline_size", "active_downline_30d", "tenure_days", "grade_level",
    "weekly_gmv_cv", "active_weeks_share",
    *(f"channel_share_{c}" for c in CHANNELS), "channel_share_other",
    "order_device_diversity_90d", "order_ip_diversity_90d", "touch_device_diversity_90d",
    "own_device_order_share", "shared_join_device_count",
    "night_order_share_90d", "max_orders_1h_90d",
)


@dataclass(frozen=True)
class RawFrames:
    """What the settlement books know, one frame per fact (see `SCHEMAS` for the columns).

    `orders.confirmed_at` / `released_at` are NaT until they happen; `attributions` are the level-1
    beneficiaries fixed at payment; `commissions` are ledger credits to a promoter (positive)
    and their reversals (negative); `refunds` are refund amounts when they were booked.
    """

    promoters: pd.DataFrame
    touches: pd.DataFrame
    orders: pd.DataFrame
    attributions: pd.DataFrame
    refunds: pd.DataFrame
    commissions: pd.DataFrame

    @classmethod
    def from_records(cls, **records: list[dict] | pd.DataFrame) -> RawFrames:
        """Frames from lists of dicts (tests, import adapters): missing frames come back empty."""
        frames = {}
        for name, columns in SCHEMAS.items():
            raw = records.get(name, [])
            frame = pd.DataFrame(raw, columns=list(columns)) if not isinstance(
                raw, pd.DataFrame) else raw.loc[:, list(columns)].copy()
            for column in TIME_COLUMNS.intersection(columns):
                frame[column] = pd.to_datetime(frame[column], utc=True)
            frames[name] = frame
        return cls(**frames)


def as_utc(as_of: object) -> pd.Timestamp:
    """The as-of instant as a UTC timestamp; a naive value is refused (instants carry a zone)."""
    stamp = pd.Timestamp(as_of)  # type: ignore[arg-type]
    if stamp.tzinfo is None:
        raise ValueError(f"as_of {as_of!r} must be timezone-aware")
    return stamp.tz_convert("UTC")


def restrict_to(frames: RawFrames, as_of: pd.Timestamp) -> RawFrames:
    """Drop every fact known only after `as_of`: the one guard against leakage, always applied."""
    orders = frames.orders.loc[frames.orders["paid_at"] <= as_of].copy()
    for column in ("confirmed_at", "released_at"):
        orders.loc[orders[column] > as_of, column] = pd.NaT
    kept = set(orders["order_id"])
    return replace(
        frames,
        promoters=frames.promoters.loc[frames.promoters["joined_at"] <= as_of],
        touches=frames.touches.loc[frames.touches["ts"] <= as_of],
        orders=orders,
        attributions=frames.attributions.loc[frames.attributions["order_id"].isin(kept)],
        refunds=frames.refunds.loc[frames.refunds["ts"] <= as_of],
        commissions=frames.commissions.loc[frames.commissions["ts"] <= as_of],
    )
