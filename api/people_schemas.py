"""Request and response bodies of the people routes (applications, invite codes and links,
privacy). Personal fields go in as typed and come out masked; only the privacy export returns
them in the clear."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from settlement.applications import Application
from settlement.invite_codes import InviteCode, invite_link
from settlement.invite_uses import RecordedUse


class ApplicationIn(BaseModel):
    """An application as the mall's sign-up form sends it; checked before anything is stored."""

    user_id: str = Field(min_length=1, max_length=100, description="the mall's user id")
    name: str = Field(min_length=1, max_length=64, description="real name")
    phone: str = Field(min_length=1, max_length=32, description="mobile number")
    id_number: str | None = Field(None, max_length=32, description="resident ID number")
    documents: list[str] = Field(default_factory=list, max_length=10,
                                 description="references to uploaded documents")
    inviter_code: str | None = Field(None, max_length=32)
    training_completed: bool = False
    device_id: str | None = Field(None, max_length=128, description="for the per-device limit")
    ip: str | None = Field(None, max_length=128, description="for the per-address limit")


class ApplicationOut(BaseModel):
    """An application, personal fields masked (`138****1234`); `documents` is their count."""

    application_id: str
    user_id: str
    status: str
    name: str | None
    phone: str | None
    id_number: str | None
    documents: int
    inviter_code: str | None
    inviter_id: str | None
    training_completed: bool
    applied_at: datetime
    decided_at: datetime | None
    decided_by: str | None
    reason: str | None
    joined_event_id: str | None
    erased_at: datetime | None

    @classmethod
    def of(cls, application: Application) -> ApplicationOut:
        return cls.model_validate(application.masked())


class ApplicationsOut(BaseModel):
    applications: list[ApplicationOut]


class ApproveIn(BaseModel):
    note: str | None = Field(None, max_length=1000, description="why, recorded with the key")


class RejectIn(BaseModel):
    reason: str = Field(min_length=1, max_length=1000, description="why; shown to the applicant")


class InviteCodeOut(BaseModel):
    code: str
    promoter_id: str
    link: str = Field(description="the plain link; add `ch` and `cid` with GET .../link")
    created_at: datetime
    created_by: str
    revoked_at: datetime | None
    revoked_by: str | None
    revoke_reason: str | None

    @classmethod
    def of(cls, code: InviteCode, base_url: str) -> InviteCodeOut:
        return cls(code=code.code, promoter_id=code.promoter_id,
                   link=invite_link(base_url, code.code), created_at=code.created_at,
                   created_by=code.created_by, revoked_at=code.revoked_at,
                   revoked_by=code.revoked_by, revoke_reason=code.revoke_reason)


class InviteCodesOut(BaseModel):
    codes: list[InviteCodeOut]


class RevokeIn(BaseModel):
    reason: str | None = Field(None, max_length=1000)


class LinkOut(BaseModel):
    link: str


class LinkUseIn(BaseModel):
    """A visit or registration through a link, as the mall saw it."""

    customer_id: str = Field(min_length=1, max_length=100)
    visit_id: str | None = Field(None, max_length=100, description="required for a visit")
    channel: str | None = Field(None, max_length=64)
    content_id: str | None = Field(None, max_length=128)
    device_id: str | None = Field(None, max_length=128)
    ip: str | None = Field(None, max_length=128)


class LinkUseOut(BaseModel):
    event_id: str = Field(description="the touch event sent to the books")
    code: str
    promoter_id: str
    kind: str
    customer_id: str
    at: datetime
    bound_to: str | None = Field(description="whom the customer is bound to now")
    duplicate: bool = Field(description="reported before: nothing new was recorded")

    @classmethod
    def of(cls, use: RecordedUse) -> LinkUseOut:
        return cls(event_id=use.event_id, code=use.code, promoter_id=use.promoter_id,
                   kind=use.kind, customer_id=use.customer_id, at=use.at,
                   bound_to=use.bound_to, duplicate=use.duplicate)


class EraseIn(BaseModel):
    reason: str | None = Field(None, max_length=1000, description="the request it answers")


class ErasedOut(BaseModel):
    person_id: str
    erased: dict[str, int] = Field(description="rows erased per kind of record")


class ExportOut(BaseModel):
    """Everything held about one person, personal fields decrypted (see settlement.privacy)."""

    person_id: str
    exported_at: datetime
    sections: dict[str, Any]
