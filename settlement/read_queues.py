"""The read model's queues: work waiting for a person or for the relay, counted for monitoring.

Read through `settlement.read_model`, which re-exports these (the API's `/metrics` gauges).
"""

from __future__ import annotations

from sqlalchemy import Connection, func, select

from settlement import tables as t
from settlement.payout_status import PayoutStatus
from settlement.stream_tables import stream_outbox, stream_partitions


def payouts_awaiting_approval(conn: Connection) -> int:
    """Payouts a person still has to approve or reject (review limit or risk review)."""
    waiting = t.payouts.c.status == PayoutStatus.AWAITING_APPROVAL
    query = select(func.count()).select_from(t.payouts).where(waiting)
    return int(conn.execute(query).scalar_one())


def outbox_unpublished(conn: Connection) -> int:
    """Commission messages the Kafka worker booked that the relay has not published yet."""
    return int(conn.execute(select(func.count()).select_from(stream_outbox)
                            .where(stream_outbox.c.published_at.is_(None))).scalar_one())


def stream_positions(conn: Connection, group_id: str, topic: str) -> dict[int, int]:
    """partition -> the next offset the group will apply (what it stored with its last step)."""
    p = stream_partitions.c
    rows = conn.execute(select(p.partition, p.next_offset)
                        .where(p.group_id == group_id, p.topic == topic))
    return {int(partition): int(offset) for partition, offset in rows}
