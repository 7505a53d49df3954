"""Settings of the LTV models, from `FENRUN_LTV_` variables, read once at an entry point."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class LtvSettings(BaseSettings):
    """Horizon of the value forecast and the currency modelled (default: the most common)."""

    model_config = SettingsConfigDict(env_prefix="FENRUN_LTV_", extra="ignore")

    horizon_days: int = Field(default=90, ge=1, le=730)
    currency: str | None = None
