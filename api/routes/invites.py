"""Invite codes and links: the mall makes and revokes a promoter's codes and reports visits and
registrations through links (each a `touch` in the books); a promoter's own key manages its own
codes under `/v1/me`. The same services as `fenrun invites`."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query

from api.auth import Caller, allow
from api.deps import BooksDep, DataCipherDep, PeopleSettingsDep
from api.errors import error_responses
from api.people_schemas import (
    InviteCodeOut,
    InviteCodesOut,
    LinkOut,
    LinkUseIn,
    LinkUseOut,
    RevokeIn,
)
from settlement.errors import NotFound
from settlement.invite_codes import codes_of, create_code, find_code, invite_link, revoke_code
from settlement.invite_uses import REGISTER, VISIT, LinkUse, record_use
from settlement.people_config import PeopleSettings
from settlement.people_errors import InvalidPersonalData, InviteRefused, TooManyAttempts
from settlement.personal_data import DataKeyMissing

router = APIRouter(prefix="/v1", tags=["invites"])
PromoterId = Annotated[str, Path(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.:@-]+$")]
Code = Annotated[str, Path(min_length=8, max_length=16, pattern=r"^[A-Za-z0-9]+$")]
MallCaller = Annotated[Caller, allow("mall")]
PromoterCaller = Annotated[Caller, allow("promoter")]
CODE_ERRORS = (NotFound, InviteRefused, InvalidPersonalData)


def _new_code(books: BooksDep, settings: PeopleSettings, promoter_id: str,
              actor: str) -> InviteCodeOut:
    with books.begin() as conn:
        code = create_code(conn, settings, promoter_id, actor, datetime.now(UTC))
    return InviteCodeOut.of(code, settings.invite_base_url)


def _codes(books: BooksDep, settings: PeopleSettings, promoter_id: str) -> InviteCodesOut:
    with books.connect() as conn:
        codes = codes_of(conn, promoter_id)
    return InviteCodesOut(codes=[InviteCodeOut.of(c, settings.invite_base_url) for c in codes])


@router.post("/promoters/{promoter_id}/invite-codes", status_code=201,
             responses=error_responses(*CODE_ERRORS, validated=True))
def create_for(promoter_id: PromoterId, books: BooksDep, settings: PeopleSettingsDep,
               caller: MallCaller) -> InviteCodeOut:
    """A new code for a joined, active promoter (404 if it has not joined)."""
    return _new_code(books, settings, promoter_id, f"key:{caller.name}")


@router.get("/promoters/{promoter_id}/invite-codes", dependencies=[allow("mall")],
            responses=error_responses(validated=True))
def list_for(promoter_id: PromoterId, books: BooksDep,
             settings: PeopleSettingsDep) -> InviteCodesOut:
    """A promoter's codes, newest first, revoked ones with who and why."""
    return _codes(books, settings, promoter_id)


@router.post("/me/invite-codes", status_code=201, responses=error_responses(*CODE_ERRORS))
def create_mine(books: BooksDep, settings: PeopleSettingsDep,
                caller: PromoterCaller) -> InviteCodeOut:
    """A new code for the promoter the key belongs to (the key's name is its promoter id)."""
    return _new_code(books, settings, caller.name, f"key:{caller.name}")


@router.get("/me/invite-codes")
def list_mine(books: BooksDep, settings: PeopleSettingsDep,
              caller: PromoterCaller) -> InviteCodesOut:
    """The codes of the promoter the key belongs to."""
    return _codes(books, settings, caller.name)


@router.post("/invite-codes/{code}/revoke", responses=error_responses(*CODE_ERRORS,
                                                                      validated=True))
def revoke(code: Code, body: RevokeIn, books: BooksDep, settings: PeopleSettingsDep,
           caller: MallCaller) -> InviteCodeOut:
    """Revoke a code: its links stop working (409 if it already was)."""
    with books.begin() as conn:
        found = revoke_code(conn, code, f"key:{caller.name}", body.reason, datetime.now(UTC))
    return InviteCodeOut.of(found, settings.invite_base_url)


@router.get("/invite-codes/{code}/link", dependencies=[allow("mall", "promoter")],
            responses=error_responses(*CODE_ERRORS, validated=True))
def link(code: Code, books: BooksDep, settings: PeopleSettingsDep,
         channel: Annotated[str | None, Query(max_length=64)] = None,
         content_id: Annotated[str | None, Query(max_length=128)] = None) -> LinkOut:
    """The link to share for a code, carrying the channel and the content id."""
    with books.connect() as conn:
        found = find_code(conn, code)
    return LinkOut(link=invite_link(settings.invite_base_url, found.code, channel, content_id))


def _use(kind: str, code: str, body: LinkUseIn, books: BooksDep, cipher: DataCipherDep,
         settings: PeopleSettings) -> LinkUseOut:
    use = LinkUse(code, kind, body.customer_id, body.visit_id, body.channel, body.content_id,
                  body.device_id, body.ip)
    return LinkUseOut.of(record_use(books, cipher, settings, use, datetime.now(UTC)))


@router.post("/invite-codes/{code}/visits", dependencies=[allow("mall")],
             responses=error_responses(*CODE_ERRORS, DataKeyMissing, validated=True))
def visit(code: Code, body: LinkUseIn, books: BooksDep, cipher: DataCipherDep,
          settings: PeopleSettingsDep) -> LinkUseOut:
    """A visit through a link (`visit_id` required): a `click` touch for the code's promoter;
    the same visit reported again is answered with `duplicate` true."""
    return _use(VISIT, code, body, books, cipher, settings)


@router.post("/invite-codes/{code}/registrations", dependencies=[allow("mall")],
             responses=error_responses(*CODE_ERRORS, TooManyAttempts, DataKeyMissing,
                                       validated=True))
def registration(code: Code, body: LinkUseIn, books: BooksDep, cipher: DataCipherDep,
                 settings: PeopleSettingsDep) -> LinkUseOut:
    """A registration through a link: a `register` touch, which binds the customer (409 if it
    registered through another code before; 429 past the per-device or per-address limit)."""
    return _use(REGISTER, code, body, books, cipher, settings)
