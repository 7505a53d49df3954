"""How far the settlement workers are behind the orders topic: per partition, the broker's end
offset minus the `next_offset` the group stored with its last applied step.

The stored offset, not Kafka's committed one, is the truth (STREAMING.md: offsets committed to
Kafka are only for monitoring and may trail a crash). A partition no worker has read yet lags by
everything in it. Reading end offsets costs one metadata and one list-offsets request, each
bounded by `LAG_TIMEOUT_MS`, so a slow broker makes a scrape slow, never stuck.
"""

from __future__ import annotations

from kafka import KafkaConsumer, TopicPartition
from sqlalchemy import Engine

from settlement.read_queues import stream_positions
from settlement.stream.config import StreamSettings

LAG_TIMEOUT_MS = 2_000  # per broker request of one reading


class StreamLag:
    """Reads the lag of `settings.consumer_group` on `settings.orders_topic`; keeps one client."""

    def __init__(self, settings: StreamSettings) -> None:
        if not settings.kafka_bootstrap:
            raise ValueError("kafka_bootstrap: the stream lag needs a broker address")
        self.settings = settings
        self._client: KafkaConsumer | None = None

    def read(self, books: Engine) -> dict[int, int]:
        """partition -> messages published and not yet applied (never negative)."""
        client = self._connect()
        topic = self.settings.orders_topic
        partitions = sorted(client.partitions_for_topic(topic) or ())
        ends = client.end_offsets([TopicPartition(topic, p) for p in partitions])
        with books.connect() as conn:
            applied = stream_positions(conn, self.settings.consumer_group, topic)
        return {p: max(0, int(ends[TopicPartition(topic, p)]) - applied.get(p, 0))
                for p in partitions}

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def _connect(self) -> KafkaConsumer:
        if self._client is None:  # no group: reading end offsets joins nothing, commits nothing
            self._client = KafkaConsumer(
                bootstrap_servers=self.settings.kafka_bootstrap, group_id=None,
                enable_auto_commit=False, request_timeout_ms=LAG_TIMEOUT_MS)
        return self._client
