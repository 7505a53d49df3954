"""Transactional outbox: ledger entries staged with the postings, relayed to Kafka afterwards.

One outbox row per journal entry, keyed by the entry id (`event:<event_id>`, `release:<order_id>`),
which is unique: staging the same entry twice is a no-op, and the id travels as the message key
and the `fenrun-entry-id` header so consumers deduplicate the at-least-once relay.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, and_, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from settlement import tables as t
from settlement.ledger import EntryKind
from settlement.repository import chunks
from settlement.stream_tables import stream_outbox

ENTRY_HEADER = "fenrun-entry-id"


def _payloads(conn: Connection, entry_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    j, p = t.journal_entries.c, t.postings.c
    found: dict[str, dict[str, Any]] = {}
    for part in chunks(sorted(set(entry_ids))):
        query = (select(j.entry_id, j.kind, j.occurred_at, j.event_id, j.plan_version_id,
                        p.account_kind, p.owner_id, p.currency, p.amount_minor)
                 .join(t.postings, p.entry_id == j.entry_id)
                 .where(j.entry_id.in_(part)).order_by(j.entry_id, p.posting_id))
        for row in conn.execute(query):
            entry = found.setdefault(row.entry_id, {
                "entry_id": row.entry_id, "kind": row.kind,
                "occurred_at": row.occurred_at.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                "event_id": row.event_id, "plan_version_id": row.plan_version_id,
                "postings": []})
            entry["postings"].append({
                "account_kind": row.account_kind, "owner_id": row.owner_id,
                "currency": row.currency, "amount_minor": row.amount_minor})
    return found


# PostgreSQL builds the same document server-side: no posting row crosses the wire.
_PG_STAGE = text("""
INSERT INTO stream_outbox (entry_id, payload, created_at)
SELECT j.entry_id,
       json_build_object(
           'entry_id', j.entry_id, 'kind', j.kind,
           'occurred_at', to_char(j.occurred_at AT TIME ZONE 'UTC',
                                  'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
           'event_id', j.event_id, 'plan_version_id', j.plan_version_id,
           'postings', json_agg(json_build_object(
               'account_kind', p.account_kind, 'owner_id', p.owner_id,
               'currency', p.currency, 'amount_minor', p.amount_minor) ORDER BY p.posting_id)
       )::text,
       :now
FROM journal_entries j JOIN postings p ON p.entry_id = j.entry_id
WHERE j.entry_id = ANY(:ids)
GROUP BY j.entry_id, j.kind, j.occurred_at, j.event_id, j.plan_version_id
ORDER BY j.entry_id
ON CONFLICT (entry_id) DO NOTHING
""")


def stage_entries(conn: Connection, entry_ids: Sequence[str], now: datetime) -> int:
    """Stage the named entries that exist (ids without an entry, e.g. touches, are skipped)."""
    if not entry_ids:
        return 0
    if conn.dialect.name == "postgresql":
        return conn.execute(_PG_STAGE, {"ids": list(entry_ids), "now": now}).rowcount
    payloads = _payloads(conn, entry_ids)
    rows = [{"entry_id": entry_id, "created_at": now,
             "payload": json.dumps(payload, separators=(",", ":"), ensure_ascii=False)}
            for entry_id, payload in sorted(payloads.items())]
    if rows:
        insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
        conn.execute(insert(stream_outbox).on_conflict_do_nothing(index_elements=["entry_id"]),
                     rows)
    return len(rows)


def stage_releases(conn: Connection, after: datetime | None, upto: datetime,
                   now: datetime) -> int:
    """Stage release entries booked in (after, upto] that are not staged yet."""
    j, o = t.journal_entries.c, stream_outbox.c
    window = [j.kind == EntryKind.RELEASED.value, j.occurred_at <= upto]
    if after is not None:
        window.append(j.occurred_at > after)
    staged = select(o.entry_id).where(o.entry_id == j.entry_id).exists()
    ids = conn.execute(select(j.entry_id).where(and_(*window), ~staged)).scalars().all()
    return stage_entries(conn, ids, now)


def relay_once(engine: Engine, producer: Any, topic: str, limit: int) -> int:
    """Publish up to `limit` unpublished rows in staging order; marks them once the broker acks.

    A crash between the ack and the mark publishes those rows again (same ids): at-least-once.
    On PostgreSQL, concurrent relays skip each other's rows.
    """
    o = stream_outbox.c
    with engine.begin() as conn:
        query = (select(o.outbox_id, o.entry_id, o.payload).where(o.published_at.is_(None))
                 .order_by(o.outbox_id).limit(limit))
        if conn.dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        rows = conn.execute(query).all()
        if not rows:
            return 0
        for row in rows:
            producer.send(topic, key=row.entry_id.encode(), value=row.payload.encode(),
                          headers=[(ENTRY_HEADER, row.entry_id.encode())])
        producer.flush()
        now = datetime.now(UTC)
        for part in chunks([row.outbox_id for row in rows]):
            conn.execute(update(stream_outbox).where(o.outbox_id.in_(part))
                         .values(published_at=now))
    return len(rows)
