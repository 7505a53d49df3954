"""Settings of the profile pipeline, read from `FENRUN_` variables once at an entry point."""

from __future__ import annotations

from pydantic_settings import BaseSettings, SettingsConfigDict


class FeatureSettings(BaseSettings):
    """Where the books are read from, where snapshots go, and the mall's local time zone."""

    model_config = SettingsConfigDict(env_prefix="FENRUN_", extra="ignore")

    database_url: str = "sqlite:///.fenrun/fenrun.db"
    feature_store_dir: str = ".fenrun/features"
    # Night-time share is measured in the mall's local time, not UTC.
    local_tz: str = "Asia/Shanghai"
