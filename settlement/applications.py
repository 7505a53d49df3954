"""Applications to become a promoter: submitted with automatic checks, then reviewed by a person.

States: `pending` -> `approved` | `rejected` (with a reason); every decision is audited (who,
when, why). Submitting checks, before anything is stored: the fields (`people_fields`), that the
user is not a promoter and has no live application, that the phone is on no other live
application, the per-device and per-IP limits over the last 24 hours, and that the inviter code
is usable (its promoter joined and active). Approving checks the configured requirements
(minimum purchase as a customer, training) and the inviter again, then, in one transaction,
marks the application approved and sends `promoter_joined` (the inviter as parent) through the
one ingestion path (`ingest.apply_history`): the books, not this table, say who is a promoter.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Connection, Engine, func, select, update
from sqlalchemy.exc import IntegrityError

from settlement import people_audit
from settlement import people_tables as pt
from settlement.errors import NotFound
from settlement.events import Event, parse_event
from settlement.ingest import REFUSED, apply_history
from settlement.invite_codes import usable_code
from settlement.masking import mask_id_number, mask_name, mask_phone
from settlement.money import format_amount, parse_amount
from settlement.people_books import customer_spend_minor, promoter_status
from settlement.people_config import PeopleSettings
from settlement.people_errors import ApplicationRefused, InvalidPersonalData, TooManyAttempts
from settlement.people_fields import (
    check_client_tag,
    check_documents,
    check_id_number,
    check_ip,
    check_name,
    check_user_id,
    normalize_phone,
)
from settlement.personal_data import DataCipher
from settlement.service import in_transaction

PENDING, APPROVED, REJECTED = "pending", "approved", "rejected"
STATUSES = (PENDING, APPROVED, REJECTED)
WINDOW = timedelta(days=1)
MAX_LISTED = 10_000
MAX_REASON_CHARS = 1_000
# Contexts the tokens and blind indexes are bound to (see settlement.personal_data).
NAME, PHONE, ID_NUMBER, DOCUMENTS = ("application.name", "application.phone",
                                     "application.id_number", "application.documents")
DEVICE, IP = "application.device", "application.ip"


@dataclass(frozen=True, slots=True)
class ApplicationForm:
    """What an applicant sends (as typed; checked and normalised by `submit`)."""

    user_id: str
    name: str
    phone: str
    id_number: str | None = None
    documents: tuple[str, ...] = ()
    inviter_code: str | None = None
    training_completed: bool = False
    device_id: str | None = None
    ip: str | None = None


@dataclass(frozen=True, slots=True)
class Application:
    """A stored application with its personal fields decrypted (None once erased).

    Show it through `masked()`; the plain fields are for the person's own export only."""

    application_id: str
    user_id: str
    status: str
    name: str | None
    phone: str | None
    id_number: str | None
    documents: tuple[str, ...]
    inviter_code: str | None
    inviter_id: str | None
    training_completed: bool
    applied_at: datetime
    decided_at: datetime | None
    decided_by: str | None
    reason: str | None
    joined_event_id: str | None
    erased_at: datetime | None = field(default=None)

    def masked(self) -> dict[str, object]:
        """Every field, personal ones masked: what any output except the export shows."""
        return {"application_id": self.application_id, "user_id": self.user_id,
                "status": self.status, "name": mask_name(self.name),
                "phone": mask_phone(self.phone), "id_number": mask_id_number(self.id_number),
                "documents": len(self.documents), "inviter_code": self.inviter_code,
                "inviter_id": self.inviter_id, "training_completed": self.training_completed,
                "applied_at": self.applied_at.isoformat(),
                "decided_at": self.decided_at.isoformat() if self.decided_at else None,
                "decided_by": self.decided_by, "reason": self.reason,
                "joined_event_id": self.joined_event_id,
                "erased_at": self.erased_at.isoformat() if self.erased_at else None}


def _plain(cipher: DataCipher, token: str | None, context: str) -> str | None:
    return None if token is None else cipher.decrypt(token, context)


def _application(cipher: DataCipher, row: object) -> Application:
    r = row._mapping  # type: ignore[attr-defined]
    documents = _plain(cipher, r["documents_token"], DOCUMENTS)
    return Application(
        r["application_id"], r["user_id"], r["status"], _plain(cipher, r["name_token"], NAME),
        _plain(cipher, r["phone_token"], PHONE), _plain(cipher, r["id_number_token"], ID_NUMBER),
        tuple(json.loads(documents)) if documents else (), r["inviter_code"], r["inviter_id"],
        bool(r["training_completed"]), r["applied_at"], r["decided_at"], r["decided_by"],
        r["reason"], r["joined_event_id"], r["erased_at"])


def get_application(conn: Connection, cipher: DataCipher, application_id: str) -> Application:
    row = conn.execute(select(pt.promoter_applications)
                       .where(pt.promoter_applications.c.application_id == application_id)).first()
    if row is None:
        raise NotFound(f"application_id: no application {application_id!r}")
    return _application(cipher, row)


def list_applications(conn: Connection, cipher: DataCipher, status: str | None = None,
                      user_id: str | None = None, limit: int = MAX_LISTED) -> list[Application]:
    """Applications oldest first, optionally by status or user (at most `limit`)."""
    if status is not None and status not in STATUSES:
        raise InvalidPersonalData("status", f"must be one of {', '.join(STATUSES)}")
    c = pt.promoter_applications.c
    query = select(pt.promoter_applications).order_by(c.applied_at, c.application_id)
    if status is not None:
        query = query.where(c.status == status)
    if user_id is not None:
        query = query.where(c.user_id == user_id)
    return [_application(cipher, row) for row in conn.execute(query.limit(min(limit, MAX_LISTED)))]


def _count_since(conn: Connection, column: object, indexes: list[str], since: datetime) -> int:
    c = pt.promoter_applications.c
    return int(conn.execute(select(func.count()).where(
        column.in_(indexes), c.applied_at > since)).scalar_one())  # type: ignore[attr-defined]


def _check_limits(conn: Connection, cipher: DataCipher, settings: PeopleSettings,
                  device: str | None, ip: str | None, at: datetime) -> None:
    c = pt.promoter_applications.c
    for tag, column, context, limit, what in (
            (device, c.device_index, DEVICE, settings.applications_per_device_per_day,
             "device_id"),
            (ip, c.ip_index, IP, settings.applications_per_ip_per_day, "ip")):
        if tag is None:
            continue
        count = _count_since(conn, column, cipher.blind_indexes(tag, context), at - WINDOW)
        if count >= limit:
            raise TooManyAttempts(f"{what}: {count} applications from this {what.split('_')[0]} "
                                  f"in the last 24 hours, at most {limit}; try again tomorrow")


def _check_applicant(conn: Connection, cipher: DataCipher, user_id: str, phone: str) -> None:
    c = pt.promoter_applications.c
    if promoter_status(conn, user_id) is not None:
        raise ApplicationRefused(f"user_id: {user_id} is already a promoter")
    live = conn.execute(select(c.application_id, c.status).where(
        c.user_id == user_id, c.status != REJECTED)).first()
    if live is not None:
        raise ApplicationRefused(f"user_id: {user_id} already has application "
                                 f"{live.application_id} ({live.status})")
    taken = conn.execute(select(c.application_id).where(
        c.phone_index.in_(cipher.blind_indexes(phone, PHONE)), c.status != REJECTED)).first()
    if taken is not None:
        raise ApplicationRefused("phone: already on another pending or approved application")


@dataclass(frozen=True, slots=True)
class _Checked:
    """A form's fields after their checks, in their stored form."""

    user_id: str
    name: str
    phone: str
    id_number: str | None
    documents: tuple[str, ...]
    device: str | None
    ip: str | None


def _checked(form: ApplicationForm) -> _Checked:
    return _Checked(check_user_id(form.user_id), check_name(form.name),
                    normalize_phone(form.phone),
                    check_id_number(form.id_number) if form.id_number else None,
                    check_documents(form.documents),
                    check_client_tag(form.device_id, "device_id"), check_ip(form.ip))


def submit(conn: Connection, cipher: DataCipher, settings: PeopleSettings, form: ApplicationForm,
           at: datetime, actor: str) -> Application:
    """Check an application and store it as pending; every check runs before anything is
    written, so a refused application changes nothing."""
    checked = _checked(form)
    _check_applicant(conn, cipher, checked.user_id, checked.phone)
    _check_limits(conn, cipher, settings, checked.device, checked.ip, at)
    inviter = (usable_code(conn, form.inviter_code, "inviter_code") if form.inviter_code
               else None)
    if inviter is not None and inviter.promoter_id == checked.user_id:
        raise ApplicationRefused("inviter_code: a user cannot invite themself")
    application_id = f"A{secrets.token_hex(8).upper()}"
    try:
        conn.execute(pt.promoter_applications.insert().values(
            application_id=application_id, status=PENDING, applied_at=at,
            training_completed=form.training_completed,
            inviter_code=inviter.code if inviter else None,
            inviter_id=inviter.promoter_id if inviter else None,
            **_sealed(cipher, checked)))
    except IntegrityError:  # the live-phone index: another submit with this phone won the race
        raise ApplicationRefused("phone: already on another pending or approved application "
                                 "(submitted at the same moment)") from None
    people_audit.record(conn, at, actor, "application.submitted", checked.user_id,
                        application_id)
    return get_application(conn, cipher, application_id)


def _sealed(cipher: DataCipher, checked: _Checked) -> dict[str, str | None]:
    """The personal columns of a new row: tokens and blind indexes, never a value."""
    def seal(value: str | None, context: str) -> str | None:
        return None if value is None else cipher.encrypt(value, context)

    def index(value: str | None, context: str) -> str | None:
        return None if value is None else cipher.blind_index(value, context)

    return {"user_id": checked.user_id, "name_token": seal(checked.name, NAME),
            "phone_token": seal(checked.phone, PHONE),
            "phone_index": index(checked.phone, PHONE),
            "id_number_token": seal(checked.id_number, ID_NUMBER),
            "documents_token": seal(json.dumps(checked.documents) if checked.documents else None,
                                    DOCUMENTS),
            "device_index": index(checked.device, DEVICE), "ip_index": index(checked.ip, IP)}


def _pending(conn: Connection, cipher: DataCipher, application_id: str) -> Application:
    found = get_application(conn, cipher, application_id)
    if found.status != PENDING:
        raise ApplicationRefused(f"application_id: {application_id} was already {found.status} "
                                 f"by {found.decided_by} at {found.decided_at:%Y-%m-%d %H:%M}")
    return found


def _check_requirements(conn: Connection, settings: PeopleSettings, found: Application) -> None:
    if settings.apply_require_training and not found.training_completed:
        raise ApplicationRefused(f"training_completed: {found.user_id} has not finished the "
                                 "training this mall requires (FENRUN_APPLY_REQUIRE_TRAINING)")
    if settings.apply_min_purchase > 0:
        currency = settings.apply_currency
        needed = parse_amount(format(settings.apply_min_purchase, "f"), currency,
                              "apply_min_purchase")
        spent = customer_spend_minor(conn, found.user_id, currency)
        if spent < needed:
            raise ApplicationRefused(
                f"apply_min_purchase: {found.user_id} bought {format_amount(spent, currency)} "
                f"{currency}, the mall requires {format_amount(needed, currency)}")
    if found.inviter_id is not None:
        inviter = promoter_status(conn, found.inviter_id)
        if inviter is None or inviter.suspended:
            raise ApplicationRefused(f"inviter_id: {found.inviter_id} is "
                                     f"{'not joined' if inviter is None else 'suspended'}; "
                                     "reject the application or reinstate the inviter")


def _reason(text: str | None, required: bool, field: str) -> str | None:
    reason = (text or "").strip() or None
    if required and reason is None:
        raise InvalidPersonalData(field, "a rejection says why (it is shown to the applicant)")
    if reason is not None and len(reason) > MAX_REASON_CHARS:
        raise InvalidPersonalData(field, f"at most {MAX_REASON_CHARS} characters")
    return reason


def _mark(conn: Connection, application_id: str, status: str, actor: str, reason: str | None,
          at: datetime, event_id: str | None = None) -> None:
    c = pt.promoter_applications.c
    changed = conn.execute(update(pt.promoter_applications).where(
        c.application_id == application_id, c.status == PENDING).values(
        status=status, decided_at=at, decided_by=actor, reason=reason,
        joined_event_id=event_id)).rowcount
    if changed != 1:  # another reviewer decided between our read and this write
        raise ApplicationRefused(f"application_id: {application_id} was decided meanwhile")
    people_audit.record(conn, at, actor, f"application.{status}", _user_of(conn, application_id),
                        application_id, reason)


def _user_of(conn: Connection, application_id: str) -> str:
    c = pt.promoter_applications.c
    return str(conn.execute(select(c.user_id).where(c.application_id == application_id))
               .scalar_one())


def approve(engine: Engine, cipher: DataCipher, settings: PeopleSettings, application_id: str,
            actor: str, note: str | None, at: datetime) -> Application:
    """Approve a pending application and send `promoter_joined` to the books, atomically: if the
    books refuse the event, the application stays pending and the refusal is the error."""
    note = _reason(note, required=False, field="note")

    def work(conn: Connection) -> Application:
        found = _pending(conn, cipher, application_id)
        _check_requirements(conn, settings, found)
        event = _joined_event(found, at)
        _mark(conn, application_id, APPROVED, actor, note, at, event.event_id)
        outcomes, _ = apply_history(conn, [event])
        if outcomes[0].status in REFUSED:
            raise ApplicationRefused(f"the books refused promoter_joined for {found.user_id}: "
                                     f"{outcomes[0].reason}")
        return get_application(conn, cipher, application_id)

    return in_transaction(engine, work)


def _joined_event(found: Application, at: datetime) -> Event:
    payload: dict[str, object] = {
        "event_id": f"application:{found.application_id}:joined", "type": "promoter_joined",
        "ts": at.isoformat(), "promoter_id": found.user_id,
        "source": "application", "application_id": found.application_id}
    if found.inviter_id is not None:
        payload["parent_id"] = found.inviter_id
    return parse_event(payload)


def reject(conn: Connection, cipher: DataCipher, application_id: str, actor: str,
           reason: str | None, at: datetime) -> Application:
    """Reject a pending application, saying why; the phone is free for a new application."""
    text = _reason(reason, required=True, field="reason")
    _pending(conn, cipher, application_id)
    _mark(conn, application_id, REJECTED, actor, text, at)
    return get_application(conn, cipher, application_id)
