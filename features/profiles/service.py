"""`build_profiles`: point-in-time promoter profiles, the one entry used by training and serving.

Given a database connection (or engine) the raw frames are loaded as of `as_of`; given `RawFrames`
they are used as they are. Either way they are restricted to `as_of` first, so the profile of a
promoter as of T is the same whether or not the books already hold what happened after T.
"""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd
from sqlalchemy import Connection, Engine

from features.profiles import transforms as tf
from features.profiles.domain import FEATURE_COLUMNS, RawFrames, as_utc, restrict_to
from features.profiles.repository import load_raw_frames

ENTITY, EVENT_TIME = "promoter_id", "as_of"
# Values for a promoter with nothing to measure: "no sign of shared devices" rather than 0.
NEUTRAL = {"order_device_diversity_90d": 1.0, "order_ip_diversity_90d": 1.0,
           "touch_device_diversity_90d": 1.0}
DEFAULT_TZ = "Asia/Shanghai"


def profile_features(frames: RawFrames, as_of: pd.Timestamp,
                     local_tz: str = DEFAULT_TZ) -> pd.DataFrame:
    """Every feature for every promoter in `frames` (already restricted), indexed by promoter."""
    promoters = frames.promoters
    sales = tf.sales_frame(frames)
    parts = [
        tf.window_activity(sales, frames.commissions, as_of),
        tf.conversion(sales, frames.touches, as_of),
        tf.refund_behaviour(sales),
        tf.customer_acquisition(sales, frames.orders),
        tf.network(promoters, sales, as_of),
        tf.weekly_stability(sales, promoters, as_of),
        tf.channel_mix(frames.touches),
        tf.device_diversity(sales, frames.touches, promoters, as_of),
        tf.timing(sales, as_of, local_tz),
    ]
    index = pd.Index(sorted(promoters["promoter_id"].unique()), name=ENTITY)
    features = pd.concat([part.reindex(index) for part in parts], axis=1)
    features = features.reindex(columns=list(FEATURE_COLUMNS))
    return features.fillna(NEUTRAL).fillna(0.0).astype("float64")


def build_profiles(
    source: Connection | Engine | RawFrames,
    as_of: object,
    promoter_ids: Iterable[str] | None = None,
    local_tz: str = DEFAULT_TZ,
) -> pd.DataFrame:
    """Profiles as of `as_of`: columns `promoter_id`, `as_of`, then `FEATURE_COLUMNS` (floats).

    Only promoters who joined by `as_of` appear; `promoter_ids` narrows the result (online use:
    the features are computed the same way, the population-level counts are still exact).
    """
    at = as_utc(as_of)
    frames = source if isinstance(source, RawFrames) else load_raw_frames(
        source, at.to_pydatetime())
    features = profile_features(restrict_to(frames, at), at, local_tz)
    if promoter_ids is not None:
        features = features.loc[features.index.isin(list(promoter_ids))]
    profiles = features.reset_index()
    profiles.insert(1, EVENT_TIME, at)
    return profiles
