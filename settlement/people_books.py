"""What the people side needs to know from the books, read-only: is a promoter joined and
active, what has a customer spent, whom is a customer bound to.

The books stay the only truth about promoters: an application or an invite never keeps its own
copy of "is a promoter"; it asks here, inside the caller's transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, func, select

from settlement import tables as t


@dataclass(frozen=True, slots=True)
class PromoterStatus:
    promoter_id: str
    parent_id: str | None
    joined_at: datetime
    suspended: bool


def promoter_status(conn: Connection, promoter_id: str) -> PromoterStatus | None:
    """The promoter as the books hold it now, or None if it has not joined."""
    c = t.promoters.c
    row = conn.execute(select(c.promoter_id, c.parent_id, c.joined_at, c.suspended)
                       .where(c.promoter_id == promoter_id)).first()
    return None if row is None else PromoterStatus(row[0], row[1], row[2], bool(row[3]))


def customer_spend_minor(conn: Connection, customer_id: str, currency: str) -> int:
    """What a customer paid in `currency`, minus what was refunded, in minor units."""
    o = t.orders.c
    total = conn.execute(select(func.coalesce(func.sum(o.gross_minor - o.refunded_minor), 0))
                         .where(o.customer_id == customer_id, o.currency == currency)).scalar()
    return int(total or 0)


def bound_promoter(conn: Connection, customer_id: str) -> str | None:
    """The promoter a customer is bound to for life, if any."""
    c = t.customer_bindings.c
    return conn.execute(select(c.promoter_id).where(c.customer_id == customer_id)).scalar()
