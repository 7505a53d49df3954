"""Settings of the HTTP API itself (keys, rate limits, request limits), from `FENRUN_API_*`."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ApiSettings(BaseSettings):
    """Read once in `create_app`; every limit bounded."""

    model_config = SettingsConfigDict(env_prefix="FENRUN_API_", extra="ignore")

    # How long a looked-up key is trusted before the books are read again: a revoked key stops
    # working within this time; 0 reads the key on every request (tests).
    key_cache_s: float = Field(default=10.0, ge=0.0, le=300.0)
    # Per key: a token bucket refilled at `rate_per_s`, holding at most `burst` requests.
    rate_per_s: float = Field(default=50.0, gt=0.0, le=10_000.0)
    burst: int = Field(default=200, ge=1, le=100_000)
    # Events in one `POST /v1/events` request (a mall sends more in several requests).
    events_per_request: int = Field(default=5000, ge=1, le=50_000)
    # Ledger lines and payouts in one page.
    page_max: int = Field(default=1000, ge=1, le=10_000)
    # How often the served rate suggestions are checked for new ones (a cheap marker query; a
    # changed marker reloads them in the background, requests never wait on it).
    rates_refresh_s: float = Field(default=2.0, ge=0.05, le=3600.0)
