"""Turning orders into settlement events with stable, content-derived ids.

Per order, in this order (ties in `ts` keep it, as the engine sorts stably):
- `touch` (kind `click`, channel `import`) from the order's promoter at the order's instant, just
  before the payment, so attribution follows the plan like any live touch;
- `order_paid` with the order's lines; `order_confirmed` at `confirmed_at` (default: the order's
  instant: the history is complete, holds run from there);
- one `order_refunded` per distinct refund instant, with the refunded lines.
A `promoter_joined` (no parent: the file does not say who invited whom) comes first for every
promoter the books do not know yet, at the first instant the file shows them.

Ids are `import:<order_id>:paid|touch|confirmed|refunded:<UTC stamp>` and
`import:promoter:<promoter_id>:joined`; an id over the engine's limit uses a digest of the key.
So importing the same file again finds every event already applied and changes nothing.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

from features.importer.domain import Order
from features.importer.errors import Reject
from settlement.errors import InvalidEvent
from settlement.events import MAX_ID_LENGTH, Event, parse_event
from settlement.money import format_amount

TOUCH_CHANNEL = "import"


def event_id(key: str, suffix: str) -> str:
    """`import:<key>:<suffix>`, or `import:#<digest of key>:<suffix>` when that is too long."""
    candidate = f"import:{key}:{suffix}"
    if len(candidate) <= MAX_ID_LENGTH:
        return candidate
    return f"import:#{hashlib.sha256(key.encode()).hexdigest()[:40]}:{suffix}"


def iso(instant: datetime) -> str:
    return instant.astimezone(UTC).isoformat().replace("+00:00", "Z")


def stamp(instant: datetime) -> str:
    """A compact UTC stamp for ids: `20260301T021500Z` (microseconds only when present)."""
    utc = instant.astimezone(UTC)
    micro = f".{utc.microsecond:06d}" if utc.microsecond else ""
    return f"{utc:%Y%m%dT%H%M%S}{micro}Z"


def _refund_payloads(order: Order) -> list[dict[str, Any]]:
    by_instant: dict[datetime, list[dict[str, str]]] = defaultdict(list)
    for line in order.lines:
        if line.refunded_minor and line.refunded_at is not None:
            by_instant[line.refunded_at].append(
                {"sku": line.sku, "amount": format_amount(line.refunded_minor, order.currency)})
    return [{"event_id": event_id(order.order_id, f"refunded:{stamp(at)}"),
             "type": "order_refunded", "ts": iso(at), "order_id": order.order_id, "lines": lines}
            for at, lines in sorted(by_instant.items())]


def order_payloads(order: Order) -> list[dict[str, Any]]:
    """The events of one order, in the order they must apply at equal instants."""
    key, paid_at = order.order_id, iso(order.paid_at)
    payloads: list[dict[str, Any]] = []
    if order.promoter_id is not None:
        payloads.append({"event_id": event_id(key, "touch"), "type": "touch", "ts": paid_at,
                         "customer_id": order.customer_id, "promoter_id": order.promoter_id,
                         "kind": "click", "channel": TOUCH_CHANNEL})
    lines = [{"sku": line.sku, "category": line.category,
              "amount": format_amount(line.amount_minor, order.currency)} for line in order.lines]
    payloads.append({"event_id": event_id(key, "paid"), "type": "order_paid", "ts": paid_at,
                     "order_id": key, "customer_id": order.customer_id,
                     "merchant_id": order.merchant_id, "currency": order.currency, "lines": lines})
    payloads.append({"event_id": event_id(key, "confirmed"), "type": "order_confirmed",
                     "ts": iso(order.confirmed_at), "order_id": key})
    return payloads + _refund_payloads(order)


def first_appearances(orders: list[Order]) -> dict[str, Order]:
    """Each promoter's earliest order (ties: the earlier one in the file)."""
    first: dict[str, Order] = {}
    for order in orders:
        if order.promoter_id is None:
            continue
        known = first.get(order.promoter_id)
        if known is None or order.paid_at < known.paid_at:
            first[order.promoter_id] = order
    return first


def join_payloads(first: dict[str, Order], known_promoters: set[str]) -> list[tuple[dict, int]]:
    """`promoter_joined` for promoters the books lack, with the row that first names them."""
    new = sorted((order.paid_at, promoter) for promoter, order in first.items()
                 if promoter not in known_promoters)
    return [({"event_id": event_id(f"promoter:{promoter}", "joined"), "type": "promoter_joined",
              "ts": iso(at), "promoter_id": promoter}, first[promoter].first_row)
            for at, promoter in new]


def build_events(orders: list[Order], known_promoters: set[str],
                 ) -> tuple[list[Event], dict[str, int], list[Reject]]:
    """Parsed events in application order, the row behind each event id, and any reject.

    A reject here means the importer built an event the engine's parser refuses: a bug, reported
    against the row rather than crashing, so the file is still not half-imported.
    """
    payloads = join_payloads(first_appearances(orders), known_promoters)
    payloads += [(payload, order.first_row) for order in orders for payload in
                 order_payloads(order)]
    events: list[Event] = []
    row_of: dict[str, int] = {}
    rejects: list[Reject] = []
    for payload, row in payloads:
        try:
            events.append(parse_event(payload))
        except InvalidEvent as error:
            rejects.append(Reject(row, error.field, f"{error.reason} (got {error.value!r})"))
        row_of[payload["event_id"]] = row
    return sorted(events, key=lambda event: event.ts), row_of, rejects
