"""Per-partition progress in the database: where to resume, and how far each partition has got.

Each owner writes, in the same transaction as the postings, one row per partition it owns:
`next_offset` (first message not applied: where any worker resumes after a crash or rebalance)
and three frontiers, each the ordering key of the first *unapplied* event of a kind, or the last
key read when none is pending (so every such event up to it is applied), or IDLE when the owner
is caught up with nothing pending. Every value written is a statement about committed state, so a
stale value is still true; only IDLE is a claim about the future, trusted while its heartbeat is
fresh. Other workers read these rows to decide which of their events may go (see worker.py).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from settlement.stream.keys import IDLE, LOWEST, key_instant
from settlement.stream_tables import stream_partitions, stream_releases


@dataclass(frozen=True, slots=True)
class Progress:
    partition: int
    next_offset: int
    last_key: str
    reader_frontier: str
    writer_frontier: str
    low_frontier: str
    high_ts: datetime | None


@dataclass(frozen=True, slots=True)
class Frontiers:
    """The least frontier over a set of partitions (IDLE when all of them are idle)."""

    reader: str
    writer: str
    low: str
    high_ts: datetime | None


def _upsert(conn: Connection, table: Any, rows: list[dict[str, Any]], keys: list[str]) -> None:
    insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    statement = insert(table)
    updates = {c.name: statement.excluded[c.name] for c in table.columns if c.name not in keys}
    conn.execute(statement.on_conflict_do_update(index_elements=keys, set_=updates), rows)


def save_progress(conn: Connection, group: str, topic: str, rows: Iterable[Progress],
                  now: datetime) -> None:
    values = [{"group_id": group, "topic": topic, "partition": r.partition,
               "next_offset": r.next_offset, "last_key": r.last_key,
               "reader_frontier": r.reader_frontier, "writer_frontier": r.writer_frontier,
               "low_frontier": r.low_frontier, "high_ts": r.high_ts, "updated_at": now}
              for r in sorted(rows, key=lambda r: r.partition)]  # key order: no deadlock
    if values:
        _upsert(conn, stream_partitions, values, ["group_id", "topic", "partition"])


def load_progress(conn: Connection, group: str, topic: str) -> dict[int, Any]:
    c = stream_partitions.c
    rows = conn.execute(select(stream_partitions).where(c.group_id == group, c.topic == topic))
    return {row.partition: row for row in rows}


def _fresh(row: Any, now: datetime, idle_ttl_s: float) -> bool:
    return bool(now - row.updated_at <= timedelta(seconds=idle_ttl_s))


def _effective(value: str, row: Any, trusted: bool) -> str:
    return row.last_key if value == IDLE and not trusted else value


def claims_idle(row: Any, now: datetime, idle_ttl_s: float) -> bool:
    """The owner says it is caught up (some frontier IDLE) and its heartbeat is fresh."""
    idle = IDLE in (row.reader_frontier, row.writer_frontier, row.low_frontier)
    return idle and _fresh(row, now, idle_ttl_s)


def least_frontiers(rows: Mapping[int, Any], partitions: Iterable[int], now: datetime,
                    idle_ttl_s: float, distrust: Collection[int] = ()) -> Frontiers:
    """The frontiers of `partitions` taken together; a partition with no row blocks everything.

    An IDLE claim counts while its heartbeat is fresh, unless its partition is in `distrust`
    (claims.py); otherwise it falls back to the last key read: everything up to it is applied.
    """
    reader = writer = low = IDLE
    high: datetime | None = None
    for partition in partitions:
        row = rows.get(partition)
        if row is None:
            return Frontiers(LOWEST, LOWEST, LOWEST, high)
        trusted = partition not in distrust and _fresh(row, now, idle_ttl_s)
        reader = min(reader, _effective(row.reader_frontier, row, trusted))
        writer = min(writer, _effective(row.writer_frontier, row, trusted))
        low = min(low, _effective(row.low_frontier, row, trusted))
        if row.high_ts is not None and (high is None or row.high_ts > high):
            high = row.high_ts
    return Frontiers(reader, writer, low, high)


def release_instant(frontiers: Frontiers) -> datetime | None:
    """How far holds may be released: no unapplied event of any partition is earlier than it.

    Capped at the latest applied instant, so that when everything is applied the stream releases
    exactly what `fenrun settle` releases by default (holds due by the last event).
    """
    if frontiers.high_ts is None or frontiers.low == LOWEST:
        return None
    if frontiers.low == IDLE:
        return frontiers.high_ts
    return min(key_instant(frontiers.low), frontiers.high_ts)


def released_through(conn: Connection, group: str) -> datetime | None:
    c = stream_releases.c
    return conn.execute(select(c.released_through).where(c.group_id == group)).scalar()


def mark_released(conn: Connection, group: str, through: datetime) -> None:
    _upsert(conn, stream_releases, [{"group_id": group, "released_through": through}],
            ["group_id"])
