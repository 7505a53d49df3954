"""The read model's queues: work waiting for a person or for the relay, counted for monitoring.

Read through `settlement.read_model`, which re-exports these (the API's `/metrics` gauges).
"""

from __future__ import annotations

from sqlalchemy import Connection, func, select

from settlement import tables as t
from settlement.payouts import AWAITING_APPROVAL
from settlement.stream_tables import stream_outbox


def payouts_awaiting_approval(conn: Connection) -> int:
    """Payouts a person still has to approve or reject (review limit or risk review)."""
    return int(conn.execute(select(func.count()).select_from(t.payouts)
                            .where(t.payouts.c.status == AWAITING_APPROVAL)).scalar_one())


def outbox_unpublished(conn: Connection) -> int:
    """Commission messages the Kafka worker booked that the relay has not published yet."""
    return int(conn.execute(select(func.count()).select_from(stream_outbox)
                            .where(stream_outbox.c.published_at.is_(None))).scalar_one())
