"""Message keys, ordering keys and the role each event type plays across partitions.

Message key (partitioning): touch and order events by `customer_id`, promoter events by
`promoter_id`, so each key's events stay in one partition in publish order.

Ordering key: `(ts, seq, partition, offset)` as a fixed-width string, so that keys sort like the
batch path sorts events (by `ts`, ties in file order = `seq`) and are total across partitions.
`seq` comes from the optional `fenrun-seq` header (`fenrun produce` sets it to the position in
the sorted file); without it, ties at one instant fall back to partition and offset.

Roles: a *reader* reads state owned by other keys (a touch or payment reads promoters; a join
with a parent reads the parent); a *writer* changes that shared state (promoter events). Order
confirmations and refunds touch only their own key and are neither.

Under a plan book that keeps the plans v2 accumulators (`PlanBook.keeps_tallies`), payments
also conflict with each other: each adds to its merchant's month GMV, its promoters' ladder and
grade GMV and day grants (and may upgrade a grade), which payments of other customers read. So
`buffer.choose` makes a payment wait, as it makes a writer wait, for the earlier readers of other
partitions (every payment is a reader). Payments are still not published as writers: nothing
but payments reads the accumulators (a touch or a join reads promoters, not grades or tallies;
promoter events are already ordered against payments), so touches never wait for payments, and
what a worker publishes does not depend on the plan book. Refunds and confirmations stay
neither: they subtract nothing from the accumulators and reprice with the terms fixed at payment
(settlement/engine_rules.py).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from settlement.events import (
    Event,
    PromoterGradeSet,
    PromoterJoined,
    PromoterReinstated,
    PromoterSuspended,
)

LOWEST = ""  # sorts before every key: "nothing is known to be applied"
IDLE = "~"  # sorts after every key: "caught up, nothing pending" (trusted while fresh)
SEQ_HEADER = "fenrun-seq"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)


def ordering_key(ts: datetime, seq: int, partition: int, offset: int) -> str:
    micros = (ts - _EPOCH) // _US
    return f"{micros:017d}.{seq:012d}.{partition:05d}.{offset:015d}"


def key_instant(key: str) -> datetime:
    """The event instant encoded in an ordering key."""
    return _EPOCH + int(key[:17]) * _US


def key_offset(key: str) -> int:
    """The partition offset encoded in an ordering key (poison keys end the same way)."""
    return int(key[-15:])


def roles(event: Event) -> tuple[bool, bool]:
    """(reads other keys' state, writes state other keys read)."""
    body = event.body
    if isinstance(body, PromoterJoined):
        return body.parent_id is not None, True
    if isinstance(body, PromoterSuspended | PromoterReinstated | PromoterGradeSet):
        return False, True
    return event.type in ("touch", "order_paid"), False


def seq_from_headers(headers: list[tuple[str, bytes]] | None) -> int:
    for name, value in headers or ():
        if name == SEQ_HEADER:
            try:
                seq = int(value)
            except ValueError:
                return 0
            return seq if 0 <= seq < 10**12 else 0
    return 0


def message_key(payload: dict[str, Any], customer_of_order: dict[str, str]) -> str | None:
    """The partitioning key of one event payload; `customer_of_order` is learnt from payments.

    Confirmations and refunds carry only `order_id`: they are keyed by the customer of the
    payment seen earlier (or by an explicit `customer_id` field), falling back to the order id.
    """
    kind = payload.get("type")
    if isinstance(kind, str) and kind.startswith("promoter_"):
        return _str(payload.get("promoter_id"))
    if kind == "order_paid":
        customer = _str(payload.get("customer_id"))
        order = _str(payload.get("order_id"))
        if customer and order:
            customer_of_order[order] = customer
        return customer
    if kind in ("order_confirmed", "order_refunded"):
        order = _str(payload.get("order_id"))
        explicit = _str(payload.get("customer_id"))
        return explicit or (customer_of_order.get(order) if order else None) or order
    return _str(payload.get("customer_id"))


def _str(value: object) -> str | None:
    return value if isinstance(value, str) and value else None
