"""Invite codes and links: each promoter's codes, made, listed, resolved and revoked.

A code is `invite_code_length` characters (10 by default) drawn by `secrets` from 31 characters
that cannot be mistaken for each other (no 0/O, 1/I/L): about 49.5 bits, so codes cannot be
enumerated; typed in any case, it is read in upper case. A link is the mall's base URL, the code,
the channel it was shared on and the content (an article, a product) it was shared with; the
link itself is not stored: the channel and content come back with each use (`invite_uses`).
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import quote, urlencode

from sqlalchemy import Connection, func, select, update

from settlement import people_audit
from settlement import people_tables as pt
from settlement.errors import NotFound
from settlement.people_books import promoter_status
from settlement.people_config import PeopleSettings
from settlement.people_errors import InvalidPersonalData, InviteRefused

ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"  # no 0 O 1 I L
MAX_CODE_CHARS = 16
MAX_CODES_LISTED = 1_000
MAX_DRAWS = 5  # collisions at 49 bits are a once-in-ages event; more means something is wrong
_CHANNEL = re.compile(r"^[a-z0-9_.-]{1,64}$")
_CONTENT = re.compile(r"^[A-Za-z0-9_.:-]{1,128}$")


@dataclass(frozen=True, slots=True)
class InviteCode:
    code: str
    promoter_id: str
    created_at: datetime
    created_by: str
    revoked_at: datetime | None
    revoked_by: str | None
    revoke_reason: str | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


def normalize_code(value: str, field: str = "code") -> str:
    """A code as typed (any case, surrounding spaces) in its stored form; raises if it cannot be
    one (a character outside the alphabet, such as 0, O, 1, I or L, or a wrong length)."""
    text = (value or "").strip().upper()
    if not 8 <= len(text) <= MAX_CODE_CHARS:
        raise InvalidPersonalData(field, f"an invite code has 8 to {MAX_CODE_CHARS} characters")
    wrong = sorted({char for char in text if char not in ALPHABET})
    if wrong:
        raise InvalidPersonalData(field, f"an invite code never contains {''.join(wrong)!r} "
                                         f"(codes use {ALPHABET})")
    return text


def check_channel(value: str | None, field: str = "channel") -> str | None:
    if value is None:
        return None
    if not _CHANNEL.match(value):
        raise InvalidPersonalData(field, "1 to 64 lower-case letters, digits or _.-")
    return value


def check_content_id(value: str | None, field: str = "content_id") -> str | None:
    if value is None:
        return None
    if not _CONTENT.match(value):
        raise InvalidPersonalData(field, "1 to 128 letters, digits or _.:-")
    return value


def invite_link(base_url: str, code: str, channel: str | None = None,
                content_id: str | None = None) -> str:
    """The link a promoter shares: `<base>/<CODE>?ch=<channel>&cid=<content id>`."""
    code = normalize_code(code)
    query = {key: value for key, value in (("ch", check_channel(channel)),
                                           ("cid", check_content_id(content_id))) if value}
    link = f"{base_url.rstrip('/')}/{quote(code)}"
    return f"{link}?{urlencode(query)}" if query else link


def _row(row: object) -> InviteCode:
    return InviteCode(*row)  # type: ignore[misc]


_COLUMNS = (pt.invite_codes.c.code, pt.invite_codes.c.promoter_id, pt.invite_codes.c.created_at,
            pt.invite_codes.c.created_by, pt.invite_codes.c.revoked_at,
            pt.invite_codes.c.revoked_by, pt.invite_codes.c.revoke_reason)


def find_code(conn: Connection, code: str, field: str = "code") -> InviteCode:
    """The stored code (revoked or not); `NotFound` naming it otherwise."""
    normal = normalize_code(code, field)
    row = conn.execute(select(*_COLUMNS).where(pt.invite_codes.c.code == normal)).first()
    if row is None:
        raise NotFound(f"{field}: no invite code {normal}")
    return _row(row)


def usable_code(conn: Connection, code: str, field: str = "code") -> InviteCode:
    """A code someone may use now: it exists, is not revoked, and its promoter is joined and
    not suspended (per the books). Each refusal says which."""
    found = find_code(conn, code, field)
    if not found.active:
        raise InviteRefused(f"{field}: {found.code} was revoked on {found.revoked_at:%Y-%m-%d} "
                            "(ask the promoter for a current one)")
    status = promoter_status(conn, found.promoter_id)
    if status is None:
        raise InviteRefused(f"{field}: the promoter of {found.code} is not in the books")
    if status.suspended:
        raise InviteRefused(f"{field}: promoter {found.promoter_id} of {found.code} is "
                            "suspended")
    return found


def create_code(conn: Connection, settings: PeopleSettings, promoter_id: str, actor: str,
                at: datetime) -> InviteCode:
    """A new code for a joined, active promoter, within `invite_codes_per_promoter` active."""
    status = promoter_status(conn, promoter_id)
    if status is None:
        raise NotFound(f"promoter_id: {promoter_id} has not joined")
    if status.suspended:
        raise InviteRefused(f"promoter_id: {promoter_id} is suspended; no new invite codes")
    c = pt.invite_codes.c
    active = conn.execute(select(func.count()).where(c.promoter_id == promoter_id,
                                                     c.revoked_at.is_(None))).scalar_one()
    if active >= settings.invite_codes_per_promoter:
        raise InviteRefused(f"promoter_id: {promoter_id} has {active} active codes, at most "
                            f"{settings.invite_codes_per_promoter}; revoke one first")
    for _ in range(MAX_DRAWS):
        code = "".join(secrets.choice(ALPHABET) for _ in range(settings.invite_code_length))
        if conn.execute(select(c.code).where(c.code == code)).first() is None:
            break
    else:
        raise InviteRefused(f"code: {MAX_DRAWS} random codes in a row were taken; "
                            "raise FENRUN_INVITE_CODE_LENGTH")
    conn.execute(pt.invite_codes.insert().values(code=code, promoter_id=promoter_id,
                                                 created_at=at, created_by=actor))
    people_audit.record(conn, at, actor, "invite.created", promoter_id, code)
    return InviteCode(code, promoter_id, at, actor, None, None, None)


def revoke_code(conn: Connection, code: str, actor: str, reason: str | None,
                at: datetime) -> InviteCode:
    """Revoke a code: links carrying it stop working; uses so far stay recorded."""
    found = find_code(conn, code)
    if not found.active:
        raise InviteRefused(f"code: {found.code} was already revoked on "
                            f"{found.revoked_at:%Y-%m-%d} by {found.revoked_by}")
    conn.execute(update(pt.invite_codes).where(pt.invite_codes.c.code == found.code)
                 .values(revoked_at=at, revoked_by=actor, revoke_reason=reason))
    people_audit.record(conn, at, actor, "invite.revoked", found.promoter_id, found.code, reason)
    return find_code(conn, found.code)


def codes_of(conn: Connection, promoter_id: str) -> list[InviteCode]:
    """A promoter's codes, newest first (at most `MAX_CODES_LISTED`)."""
    c = pt.invite_codes.c
    rows = conn.execute(select(*_COLUMNS).where(c.promoter_id == promoter_id)
                        .order_by(c.created_at.desc(), c.code).limit(MAX_CODES_LISTED))
    return [_row(row) for row in rows]
