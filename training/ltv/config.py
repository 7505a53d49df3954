"""Settings of the LTV models, from `FENRUN_LTV_` variables, read once at an entry point."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class LtvSettings(BaseSettings):
    """Horizon of the value forecast, the currency modelled (default: the most common) and the
    mall's promotion calendar file (`training.ltv.calendar`; default none: stationary level)."""

    model_config = SettingsConfigDict(env_prefix="FENRUN_LTV_", extra="ignore")

    horizon_days: int = Field(default=90, ge=1, le=730)
    currency: str | None = None
    calendar: Path | None = None
