"""Tables of the live (Kafka) path: consumed positions and progress frontiers, the outbox.

Declared on the core's `metadata` (from `settlement.schema_types`; the Alembic migration 0002
mirrors them). Every row here is written in the same transaction as the postings it accounts
for, which is what makes the worker's effect exactly-once and the outbox complete.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Index, Integer, String, Table, Text

from settlement.schema_types import BigId, UTCDateTime, metadata

FRONTIER = String(80)  # an ordering key as a fixed-width string, see settlement.stream.keys

stream_partitions = Table(
    "stream_partitions",
    metadata,
    Column("group_id", String(128), primary_key=True),
    Column("topic", String(249), primary_key=True),
    Column("partition", Integer, primary_key=True),
    Column("next_offset", BigInteger, nullable=False),  # first message not yet applied
    Column("last_key", FRONTIER, nullable=False),  # ordering key of the last message read
    Column("reader_frontier", FRONTIER, nullable=False),  # first unapplied reader, or idle
    Column("writer_frontier", FRONTIER, nullable=False),  # first unapplied writer, or idle
    Column("low_frontier", FRONTIER, nullable=False),  # first unapplied event of any type
    Column("high_ts", UTCDateTime()),  # latest event instant applied from this partition
    Column("updated_at", UTCDateTime(), nullable=False),  # owner's heartbeat (wall clock)
)

stream_releases = Table(
    "stream_releases",
    metadata,
    Column("group_id", String(128), primary_key=True),
    Column("released_through", UTCDateTime(), nullable=False),
)

stream_outbox = Table(
    "stream_outbox",
    metadata,
    Column("outbox_id", BigId, primary_key=True, autoincrement=True),
    Column("entry_id", String(160), nullable=False, unique=True),  # the stable message id
    Column("payload", Text, nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("published_at", UTCDateTime()),
    Index(None, "published_at", "outbox_id"),
)
