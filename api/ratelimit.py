"""Per-key rate limits: an in-process token bucket per API key.

In-process on purpose: `fenrun serve` runs one uvicorn process, so one process sees every request
of a key and needs no network round trip per request. Several processes behind a balancer would
each allow the published rate (a shared counter in Redis would be the next step then).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

MAX_KEYS_TRACKED = 100_000  # buckets kept; the oldest are dropped past this (a full bucket again)


@dataclass
class _Bucket:
    tokens: float
    at_s: float


class TokenBuckets:
    """`take(key)` answers 0 when the request may go, else the seconds to wait before a retry."""

    def __init__(self, rate_per_s: float, burst: int,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if rate_per_s <= 0 or burst < 1:
            raise ValueError(f"rate_per_s {rate_per_s} must be > 0 and burst {burst} >= 1")
        self.rate_per_s, self.burst, self._clock = rate_per_s, burst, clock
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()

    def take(self, key: str) -> int:
        now = self._clock()
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                if len(self._buckets) >= MAX_KEYS_TRACKED:
                    self._buckets.pop(next(iter(self._buckets)))
                bucket = self._buckets[key] = _Bucket(float(self.burst), now)
            bucket.tokens = min(float(self.burst),
                                bucket.tokens + (now - bucket.at_s) * self.rate_per_s)
            bucket.at_s = now
            if bucket.tokens >= 1.0:
                bucket.tokens -= 1.0
                return 0
            return max(1, math.ceil((1.0 - bucket.tokens) / self.rate_per_s))
