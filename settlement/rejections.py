"""What the books refused: rejected events with their newest reason, their attempts, and the
stored payloads a retry offers again (`ingest.retry_rejected`). Every rejection of every attempt
stays in `event_rejections`, also after the event is applied."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, select

from settlement import tables as t
from settlement.engine import EventStatus
from settlement.errors import InvalidEvent
from settlement.events import EVENT_TYPES, Event, parse_json_line
from settlement.repository import chunks

MAX_LISTED = 10_000  # rejected events listed or retried by one call


@dataclass(frozen=True, slots=True)
class RejectionRecord:
    """One rejected event as the books hold it now."""

    event_id: str
    type: str
    ts: datetime
    attempts: int
    reason: str


@dataclass(frozen=True, slots=True)
class PastRejection:
    """One attempt's rejection; `rejected_at` is None for those recorded before migration 0005."""

    attempt: int
    reason: str
    rejected_at: datetime | None


def check_limit(limit: int) -> int:
    if not 1 <= limit <= MAX_LISTED:
        raise ValueError(f"--limit: {limit} must be between 1 and {MAX_LISTED}")
    return limit


def list_rejected(conn: Connection, event_type: str | None = None,
                  limit: int = MAX_LISTED) -> list[RejectionRecord]:
    """Events rejected now, oldest first (by `ts`, then id), at most `limit`."""
    check_limit(limit)
    if event_type is not None and event_type not in EVENT_TYPES:
        raise ValueError(f"--type: {event_type!r} must be one of {', '.join(EVENT_TYPES)}")
    e = t.events.c
    query = (select(e.event_id, e.type, e.ts, e.attempts, e.reason)
             .where(e.status == EventStatus.REJECTED).order_by(e.ts, e.event_id).limit(limit))
    if event_type is not None:
        query = query.where(e.type == event_type)
    return [RejectionRecord(row.event_id, row.type, row.ts, row.attempts, row.reason or "")
            for row in conn.execute(query)]


def rejected_ids(conn: Connection, limit: int = MAX_LISTED) -> list[str]:
    return [record.event_id for record in list_rejected(conn, None, limit)]


def rejection_history(conn: Connection, event_id: str) -> list[PastRejection]:
    r = t.event_rejections.c
    rows = conn.execute(select(r.attempt, r.reason, r.rejected_at)
                        .where(r.event_id == event_id).order_by(r.attempt))
    return [PastRejection(row.attempt, row.reason, row.rejected_at) for row in rows]


def stored_events(conn: Connection, event_ids: Sequence[str]
                  ) -> tuple[dict[str, Event], list[tuple[str, str]]]:
    """The stored payloads of these ids parsed again, and (id, reason) for any that no longer
    parse (the event rules may have grown stricter since it was stored)."""
    found: dict[str, Event] = {}
    invalid: list[tuple[str, str]] = []
    e = t.events.c
    for part in chunks(sorted(set(event_ids))):
        for event_id, payload in conn.execute(select(e.event_id, e.payload)
                                              .where(e.event_id.in_(part))):
            try:
                found[event_id] = parse_json_line(payload)
            except InvalidEvent as error:
                invalid.append((event_id, str(error)))
    return found, invalid
