"""A visit or a registration through an invite link becomes a `touch` event in the books.

The mall reports each use with the code, the channel and content id the link carried, the
customer, and (for the limits) the device id and IP address, of which only blind indexes are
kept. In one transaction the use is recorded and the touch goes through the one ingestion path
(`ingest.apply_history`): a visit is a `click`, a registration a `register`, which binds the
customer to the promoter for life as any `register` touch does (when the plan binds for life and
the customer is not bound yet).

Idempotent: a visit's id, or the customer for a registration, makes the event id, so the same
use reported twice is recorded once. A customer registers once; a second registration (another
code) is refused naming the first. Registrations per device and per IP over 24 hours are
limited (`PeopleSettings`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, Engine, func, select

from settlement import people_tables as pt
from settlement.events import Event, parse_event
from settlement.ingest import REFUSED, apply_history
from settlement.invite_codes import check_channel, check_content_id, normalize_code, usable_code
from settlement.people_books import bound_promoter
from settlement.people_config import PeopleSettings
from settlement.people_errors import InvalidPersonalData, InviteRefused, TooManyAttempts
from settlement.people_fields import check_client_tag, check_ip, check_user_id
from settlement.personal_data import DataCipher
from settlement.service import in_transaction

VISIT, REGISTER = "visit", "register"
KINDS = (VISIT, REGISTER)
TOUCH_KIND = {VISIT: "click", REGISTER: "register"}
WINDOW = timedelta(days=1)
DEVICE, IP = "invite.device", "invite.ip"


@dataclass(frozen=True, slots=True)
class LinkUse:
    """What the mall reports about one use of a link (as sent; checked by `record_use`)."""

    code: str
    kind: str
    customer_id: str
    visit_id: str | None = None  # required for a visit: the mall's id of that page view
    channel: str | None = None
    content_id: str | None = None
    device_id: str | None = None
    ip: str | None = None


@dataclass(frozen=True, slots=True)
class RecordedUse:
    event_id: str
    code: str
    promoter_id: str
    kind: str
    customer_id: str
    at: datetime
    bound_to: str | None  # the promoter the customer is bound to after this use
    duplicate: bool  # the same use was reported before; nothing new was recorded


def _event_id(use: LinkUse) -> str:
    if use.kind == REGISTER:
        return f"invite:register:{use.customer_id}"
    if use.visit_id is None:
        raise InvalidPersonalData("visit_id", "a visit needs the mall's id of the page view")
    return f"invite:visit:{check_user_id(use.visit_id, 'visit_id')}"


def _checked(use: LinkUse) -> LinkUse:
    if use.kind not in KINDS:
        raise InvalidPersonalData("kind", f"must be one of {', '.join(KINDS)}")
    return LinkUse(normalize_code(use.code), use.kind, check_user_id(use.customer_id,
                                                                     "customer_id"),
                   use.visit_id, check_channel(use.channel), check_content_id(use.content_id),
                   check_client_tag(use.device_id, "device_id"), check_ip(use.ip))


def _earlier(conn: Connection, use: LinkUse, event_id: str, at: datetime) -> RecordedUse | None:
    """The same use reported before (None if new); refuses an id reused for another use."""
    u = pt.invite_uses.c
    row = conn.execute(select(u.code, u.promoter_id, u.customer_id, u.at)
                       .where(u.event_id == event_id)).first()
    if row is None:
        return None
    if use.kind == REGISTER and row.code != use.code:
        raise InviteRefused(f"customer_id: {use.customer_id} already registered through code "
                            f"{row.code} on {row.at:%Y-%m-%d}; a customer registers once")
    if row.code != use.code or row.customer_id != use.customer_id:
        raise InviteRefused(f"visit_id: {use.visit_id} was already reported for another visit")
    return RecordedUse(event_id, row.code, row.promoter_id, use.kind, row.customer_id, row.at,
                       bound_promoter(conn, row.customer_id), True)


def _check_limits(conn: Connection, cipher: DataCipher, settings: PeopleSettings, use: LinkUse,
                  at: datetime) -> None:
    u = pt.invite_uses.c
    for tag, column, context, limit, what in (
            (use.device_id, u.device_index, DEVICE, settings.registrations_per_device_per_day,
             "device"),
            (use.ip, u.ip_index, IP, settings.registrations_per_ip_per_day, "ip")):
        if tag is None:
            continue
        count = conn.execute(select(func.count()).where(
            column.in_(cipher.blind_indexes(tag, context)), u.kind == REGISTER,
            u.at > at - WINDOW)).scalar_one()
        if count >= limit:
            field = "device_id" if what == "device" else "ip"
            raise TooManyAttempts(f"{field}: {count} registrations from this {what} in the last "
                                  f"24 hours, at most {limit}; try again tomorrow")


def _touch(use: LinkUse, promoter_id: str, event_id: str, at: datetime) -> Event:
    payload: dict[str, object] = {
        "event_id": event_id, "type": "touch", "ts": at.isoformat(),
        "customer_id": use.customer_id, "promoter_id": promoter_id,
        "kind": TOUCH_KIND[use.kind], "invite_code": use.code}
    if use.channel is not None:
        payload["channel"] = use.channel
    if use.content_id is not None:
        payload["content_id"] = use.content_id
    return parse_event(payload)


def record_use(engine: Engine, cipher: DataCipher, settings: PeopleSettings, use: LinkUse,
               at: datetime) -> RecordedUse:
    """Record a visit or registration and send its touch to the books, atomically; every check
    (code usable, not one's own code, limits, one registration per customer) runs first."""
    use = _checked(use)
    event_id = _event_id(use)

    def work(conn: Connection) -> RecordedUse:
        earlier = _earlier(conn, use, event_id, at)
        if earlier is not None:
            return earlier
        code = usable_code(conn, use.code)
        if code.promoter_id == use.customer_id:
            raise InviteRefused(f"customer_id: {use.customer_id} cannot use their own invite code")
        if use.kind == REGISTER:
            _check_limits(conn, cipher, settings, use, at)
        conn.execute(pt.invite_uses.insert().values(
            event_id=event_id, code=code.code, promoter_id=code.promoter_id, kind=use.kind,
            customer_id=use.customer_id, channel=use.channel, content_id=use.content_id,
            device_index=cipher.blind_index(use.device_id, DEVICE) if use.device_id else None,
            ip_index=cipher.blind_index(use.ip, IP) if use.ip else None, at=at))
        outcomes, _ = apply_history(conn, [_touch(use, code.promoter_id, event_id, at)])
        if outcomes[0].status in REFUSED:
            raise InviteRefused(f"the books refused the touch: {outcomes[0].reason}")
        return RecordedUse(event_id, code.code, code.promoter_id, use.kind, use.customer_id, at,
                           bound_promoter(conn, use.customer_id), False)

    return in_transaction(engine, work)
