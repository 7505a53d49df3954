"""Settings of the live path, read from `FENRUN_` variables once at the worker's entry point.

Without `FENRUN_KAFKA_BOOTSTRAP` nothing needs a broker: `fenrun settle` and the API stay
in-process (the embedded default); only `fenrun consume/produce/relay` ask for it.
"""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class StreamSettings(BaseSettings):
    """Broker, topics, group and the limits of one worker."""

    model_config = SettingsConfigDict(env_prefix="FENRUN_", extra="ignore")

    kafka_bootstrap: str | None = None
    orders_topic: str = "fenrun.orders"
    dlq_topic: str = "fenrun.orders.dlq"
    commissions_topic: str = "fenrun.commissions"
    consumer_group: str = "fenrun-settlement"
    poll_max_records: int = Field(default=5000, ge=1, le=50_000)
    poll_timeout_ms: int = Field(default=100, ge=1, le=10_000)
    apply_batch_max: int = Field(default=5000, ge=1, le=50_000)
    buffer_max_per_partition: int = Field(default=20_000, ge=100, le=1_000_000)
    release_interval_s: float = Field(default=1.0, gt=0, le=3600)
    release_batch: int = Field(default=2000, ge=1, le=50_000)
    relay_interval_s: float = Field(default=0.2, gt=0, le=60)
    relay_batch: int = Field(default=2000, ge=1, le=50_000)
    idle_ttl_s: float = Field(default=10.0, gt=0, le=600)
    session_timeout_ms: int = Field(default=10_000, ge=1000, le=300_000)
    heartbeat_interval_ms: int = Field(default=1000, ge=100, le=60_000)
    max_poll_interval_ms: int = Field(default=300_000, ge=1000, le=3_600_000)
    commissions_partitions: int = Field(default=3, ge=1, le=1000)
    rejoin_after_s: float = Field(default=60.0, ge=1, le=3600)  # stuck without partitions
    log_level: str = "WARNING"

    def require_bootstrap(self) -> str:
        """The broker address, or a clear error naming the variable."""
        if not self.kafka_bootstrap:
            raise ValueError("FENRUN_KAFKA_BOOTSTRAP is not set: the live path needs a broker "
                             "(without one, settle files in-process with `fenrun settle`)")
        return self.kafka_bootstrap
