"""Draw instants inside windows so that busy hours and promotion days get more of them.

Time is integer seconds since the start of the period. The cumulative intensity over hours is
inverted per draw, so a window that spans 双11 puts most of its orders on 双11.
"""

from __future__ import annotations

from datetime import datetime

import numpy as np

from features.simulator.catalog import hourly_intensity

HOUR_S = 3600
DAY_S = 86_400


class Timeline:
    """The period's hourly intensity and the sampler built on it."""

    def __init__(self, start: datetime, horizon_s: int) -> None:
        self.horizon_s = horizon_s
        hours = -(-horizon_s // HOUR_S)
        self.weight = hourly_intensity(start, hours)
        self.cumulative = np.concatenate([[0.0], np.cumsum(self.weight)])

    def _cum_at(self, t_s: np.ndarray) -> np.ndarray:
        hour = np.minimum(t_s // HOUR_S, len(self.weight) - 1)
        return self.cumulative[hour] + self.weight[hour] * (t_s - hour * HOUR_S) / HOUR_S

    def sample(self, rng: np.random.Generator, lo_s: np.ndarray, hi_s: np.ndarray) -> np.ndarray:
        """One instant per window [lo, hi), denser where the mall is busier; needs hi > lo."""
        lo_s = np.asarray(lo_s, dtype=np.int64)
        hi_s = np.asarray(hi_s, dtype=np.int64)
        c_lo, c_hi = self._cum_at(lo_s), self._cum_at(hi_s)
        u = c_lo + rng.random(len(lo_s)) * (c_hi - c_lo)
        hour = np.searchsorted(self.cumulative, u, side="right") - 1
        hour = np.clip(hour, 0, len(self.weight) - 1)
        frac = (u - self.cumulative[hour]) / self.weight[hour]
        t_s = (hour * HOUR_S + np.clip(frac, 0.0, 0.999999) * HOUR_S).astype(np.int64)
        return np.clip(t_s, lo_s, hi_s - 1)
