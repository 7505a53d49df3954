"""Parsing and validating the JSON events a mall sends.

An event is a JSON object with `event_id`, `type`, `ts` (ISO-8601 with an offset) and the fields
of its type. Parsing checks shape only; whether the event is allowed (the promoter exists, the
order was paid...) is decided when it is applied. Extra fields are kept in the stored payload.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from settlement.errors import InvalidEvent
from settlement.money import (
    MAX_AMOUNT_TEXT_CHARS,
    MAX_ORDER_MINOR,
    check_limit,
    format_amount,
    minor_digits,
    parse_amount,
)

MAX_ID_LENGTH = 128
MAX_LINES_PER_ORDER = 500


@dataclass(frozen=True, slots=True)
class PromoterJoined:
    promoter_id: str
    parent_id: str | None
    grade: str | None
    agent_region: str | None = None  # makes the promoter the regional agent of that region


@dataclass(frozen=True, slots=True)
class PromoterGradeSet:
    """A grade set by hand; it stands until the promoter's GMV crosses a higher grade."""

    promoter_id: str
    grade: str


@dataclass(frozen=True, slots=True)
class PromoterSuspended:
    promoter_id: str


@dataclass(frozen=True, slots=True)
class PromoterReinstated:
    promoter_id: str


@dataclass(frozen=True, slots=True)
class Touch:
    customer_id: str
    promoter_id: str
    kind: str  # "click" or "register"
    channel: str | None


@dataclass(frozen=True, slots=True)
class OrderLine:
    sku: str
    category: str
    amount_minor: int
    quantity: int = 1  # units; only a fixed commission (per unit) reads it


@dataclass(frozen=True, slots=True)
class OrderPaid:
    order_id: str
    customer_id: str
    merchant_id: str
    currency: str
    lines: tuple[OrderLine, ...]
    payment_channel: str | None = None  # the channel whose fee the merchant bears
    region: str | None = None  # the buyer's region: its regional agent earns a share


@dataclass(frozen=True, slots=True)
class OrderConfirmed:
    order_id: str


@dataclass(frozen=True, slots=True)
class RefundLine:
    sku: str
    amount: Decimal  # converted to minor units with the order's currency when applied


@dataclass(frozen=True, slots=True)
class OrderRefunded:
    order_id: str
    lines: tuple[RefundLine, ...]


Body = (
    PromoterJoined | PromoterSuspended | PromoterReinstated | Touch | OrderPaid | OrderConfirmed
    | OrderRefunded | PromoterGradeSet
)
MAX_QUANTITY = 1_000_000  # units on one line


@dataclass(frozen=True, slots=True)
class Event:
    """One delivered event: its identity, instant, typed body and the payload as received."""

    event_id: str
    type: str
    ts: datetime
    body: Body
    payload: dict[str, Any]
    payload_hash: str
    raw: str | None = None  # the JSON text as delivered, stored as is when known


def payload_hash(payload: dict[str, Any]) -> str:
    """A digest of the canonical JSON form, so a redelivery with reordered keys still matches."""
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def parse_timestamp(value: object, field: str = "ts") -> datetime:
    """An ISO-8601 instant with an explicit offset, returned as an aware UTC datetime."""
    if not isinstance(value, str):
        raise InvalidEvent(field, value, "timestamp must be an ISO-8601 string with an offset")
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise InvalidEvent(field, value, "not an ISO-8601 timestamp") from None
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise InvalidEvent(field, value, "timestamp needs an offset such as Z or +08:00")
    return parsed.astimezone(UTC)


def _identifier(payload: dict[str, Any], field: str, *, required: bool = True) -> str | None:
    value = payload.get(field)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip():
        raise InvalidEvent(field, value, "must be a non-empty string")
    if len(value) > MAX_ID_LENGTH:
        raise InvalidEvent(field, value[:20] + "...", f"longer than {MAX_ID_LENGTH} characters")
    return value


def _req(payload: dict[str, Any], field: str) -> str:
    value = _identifier(payload, field)
    if value is None:  # unreachable: required identifiers raise instead
        raise InvalidEvent(field, value, "is required")
    return value


def _text(payload: dict[str, Any], field: str) -> str | None:
    value = payload.get(field)
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidEvent(field, value, "must be a string")
    return value


def _lines(payload: dict[str, Any]) -> list[dict[str, Any]]:
    lines = payload.get("lines")
    if not isinstance(lines, list) or not lines:
        raise InvalidEvent("lines", lines, "must be a non-empty list")
    if len(lines) > MAX_LINES_PER_ORDER:
        raise InvalidEvent("lines", len(lines), f"more than {MAX_LINES_PER_ORDER} lines")
    skus: set[str] = set()
    for index, line in enumerate(lines):
        if not isinstance(line, dict):
            raise InvalidEvent(f"lines[{index}]", line, "must be an object")
        sku = _req(line, "sku")
        if sku in skus:
            raise InvalidEvent(f"lines[{index}].sku", sku, "sku appears twice in the order")
        skus.add(sku)
    return lines


def _order_paid(payload: dict[str, Any]) -> OrderPaid:
    currency = _req(payload, "currency")
    minor_digits(currency)
    parsed = []
    for index, line in enumerate(_lines(payload)):
        category = line.get("category")
        if not isinstance(category, str) or not category:
            raise InvalidEvent(f"lines[{index}].category", category, "must be a non-empty string")
        amount = parse_amount(line.get("amount"), currency, f"lines[{index}].amount")
        parsed.append(OrderLine(line["sku"], category, amount, _quantity(line, index)))
    total_minor = sum(line.amount_minor for line in parsed)
    check_limit(total_minor, MAX_ORDER_MINOR, currency, "lines",
                f"order total {format_amount(total_minor, currency)}")
    return OrderPaid(
        order_id=_req(payload, "order_id"),
        customer_id=_req(payload, "customer_id"),
        merchant_id=_req(payload, "merchant_id"),
        currency=currency,
        lines=tuple(parsed),
        payment_channel=_identifier(payload, "payment_channel", required=False),
        region=_identifier(payload, "region", required=False),
    )


def _quantity(line: dict[str, Any], index: int) -> int:
    value = line.get("quantity", 1)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_QUANTITY:
        raise InvalidEvent(f"lines[{index}].quantity", value,
                           f"must be a whole number of units from 1 to {MAX_QUANTITY}")
    return value


def _order_refunded(payload: dict[str, Any]) -> OrderRefunded:
    parsed = []
    for index, line in enumerate(_lines(payload)):
        amount = line.get("amount")
        field = f"lines[{index}].amount"
        if not isinstance(amount, str):
            raise InvalidEvent(field, amount, "amount must be a decimal string")
        if len(amount) > MAX_AMOUNT_TEXT_CHARS:
            raise InvalidEvent(field, amount[:20] + "...",
                               f"longer than {MAX_AMOUNT_TEXT_CHARS} characters")
        try:
            value = Decimal(amount.strip())
        except InvalidOperation:
            raise InvalidEvent(field, amount, "not a decimal amount") from None
        if not value.is_finite() or value <= 0:
            raise InvalidEvent(field, amount, "refund amount must be positive")
        parsed.append(RefundLine(line["sku"], value))
    return OrderRefunded(order_id=_req(payload, "order_id"), lines=tuple(parsed))


def _touch(payload: dict[str, Any]) -> Touch:
    kind = payload.get("kind", "click")
    if kind not in ("click", "register"):
        raise InvalidEvent("kind", kind, "must be 'click' or 'register'")
    return Touch(_req(payload, "customer_id"), _req(payload, "promoter_id"), kind,
                 _text(payload, "channel"))


_PARSERS: dict[str, Callable[[dict[str, Any]], Body]] = {
    "promoter_joined": lambda p: PromoterJoined(
        _req(p, "promoter_id"), _identifier(p, "parent_id", required=False), _text(p, "grade"),
        _identifier(p, "agent_region", required=False),
    ),
    "promoter_grade_set": lambda p: PromoterGradeSet(_req(p, "promoter_id"), _req(p, "grade")),
    "promoter_suspended": lambda p: PromoterSuspended(_req(p, "promoter_id")),
    "promoter_reinstated": lambda p: PromoterReinstated(_req(p, "promoter_id")),
    "touch": _touch,
    "order_paid": _order_paid,
    "order_confirmed": lambda p: OrderConfirmed(_req(p, "order_id")),
    "order_refunded": _order_refunded,
}

EVENT_TYPES = tuple(_PARSERS)


def parse_event(payload: object, raw: str | None = None) -> Event:
    """Validate one decoded JSON object and return the typed event, or raise `InvalidEvent`."""
    if not isinstance(payload, dict):
        raise InvalidEvent("event", type(payload).__name__, "an event must be a JSON object")
    event_id = _req(payload, "event_id")
    event_type = payload.get("type")
    parser = _PARSERS.get(event_type) if isinstance(event_type, str) else None
    if parser is None or not isinstance(event_type, str):
        raise InvalidEvent("type", event_type, f"must be one of {', '.join(EVENT_TYPES)}")
    ts = parse_timestamp(payload.get("ts"))
    body: Body = parser(payload)
    return Event(event_id, event_type, ts, body, payload, payload_hash(payload), raw)


def parse_json_line(line: str) -> Event:
    """Decode and validate one JSON-lines record."""
    try:
        payload = json.loads(line)
    except json.JSONDecodeError as error:
        raise InvalidEvent("line", line[:40], f"not valid JSON ({error.msg})") from None
    return parse_event(payload, line.strip())
