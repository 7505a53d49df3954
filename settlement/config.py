"""Settings of the settlement core, read from `FENRUN_` variables at an entry point."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class SettlementSettings(BaseSettings):
    """Where the books live and how large a write batch is."""

    model_config = SettingsConfigDict(env_prefix="FENRUN_", extra="ignore")

    database_url: str = "sqlite:///.fenrun/fenrun.db"
    batch_size: int = Field(default=2000, ge=1, le=50_000)
