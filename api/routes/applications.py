"""`/v1/applications`: the mall submits applications to become a promoter; a reviewer (admin)
lists, approves or rejects them, recorded with the key's name and why. The same services as
`fenrun applications` (`settlement.applications`); personal fields are masked in every answer."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query

from api.auth import Caller, allow
from api.deps import BooksDep, DataCipherDep, PeopleSettingsDep
from api.errors import error_responses
from api.people_schemas import ApplicationIn, ApplicationOut, ApplicationsOut, ApproveIn, RejectIn
from settlement.applications import (
    ApplicationForm,
    approve,
    get_application,
    list_applications,
    reject,
    submit,
)
from settlement.errors import NotFound
from settlement.people_errors import (
    ApplicationRefused,
    InvalidPersonalData,
    InviteRefused,
    TooManyAttempts,
)
from settlement.personal_data import DataKeyMissing

router = APIRouter(prefix="/v1/applications", tags=["applications"])
ApplicationId = Annotated[str, Path(pattern=r"^A[0-9A-F]{16}$")]
Status = Annotated[str | None, Query(pattern="^(pending|approved|rejected)$")]
MallCaller = Annotated[Caller, allow("mall")]
ReviewerCaller = Annotated[Caller, allow("admin")]


@router.post("", status_code=201, responses=error_responses(
    InvalidPersonalData, ApplicationRefused, InviteRefused, TooManyAttempts, NotFound,
    DataKeyMissing, validated=True))
def submit_application(body: ApplicationIn, books: BooksDep, cipher: DataCipherDep,
                       settings: PeopleSettingsDep, caller: MallCaller) -> ApplicationOut:
    """Check and store an application as `pending`: 422 for a malformed field, 409 when the
    phone or user already has a live application or the inviter code cannot be used, 429 past
    the per-device or per-address limit. A refusal stores nothing."""
    form = ApplicationForm(body.user_id, body.name, body.phone, body.id_number,
                           tuple(body.documents), body.inviter_code, body.training_completed,
                           body.device_id, body.ip)
    with books.begin() as conn:
        found = submit(conn, cipher, settings, form, datetime.now(UTC), f"key:{caller.name}")
    return ApplicationOut.of(found)


@router.get("", dependencies=[allow("admin")],
            responses=error_responses(DataKeyMissing, validated=True))
def list_all(books: BooksDep, cipher: DataCipherDep, status: Status = None) -> ApplicationsOut:
    """Applications oldest first (at most 10,000), optionally by status."""
    with books.connect() as conn:
        found = list_applications(conn, cipher, status)
    return ApplicationsOut(applications=[ApplicationOut.of(a) for a in found])


@router.get("/{application_id}", dependencies=[allow("mall")],
            responses=error_responses(NotFound, DataKeyMissing, validated=True))
def show(application_id: ApplicationId, books: BooksDep, cipher: DataCipherDep) -> ApplicationOut:
    """One application: the mall shows the applicant its state and, if rejected, why."""
    with books.connect() as conn:
        return ApplicationOut.of(get_application(conn, cipher, application_id))


@router.post("/{application_id}/approve", responses=error_responses(
    NotFound, ApplicationRefused, DataKeyMissing, validated=True))
def approve_application(application_id: ApplicationId, body: ApproveIn, books: BooksDep,
                        cipher: DataCipherDep, settings: PeopleSettingsDep,
                        caller: ReviewerCaller) -> ApplicationOut:
    """Approve: the applicant joins the books (`promoter_joined`, the inviter as parent) in the
    same transaction; 409 if already decided, a requirement is not met or the books refuse."""
    return ApplicationOut.of(approve(books, cipher, settings, application_id,
                                     f"key:{caller.name}", body.note, datetime.now(UTC)))


@router.post("/{application_id}/reject", responses=error_responses(
    NotFound, ApplicationRefused, InvalidPersonalData, DataKeyMissing, validated=True))
def reject_application(application_id: ApplicationId, body: RejectIn, books: BooksDep,
                       cipher: DataCipherDep, caller: ReviewerCaller) -> ApplicationOut:
    """Reject with a reason (shown to the applicant); 409 if already decided."""
    with books.begin() as conn:
        return ApplicationOut.of(reject(conn, cipher, application_id, f"key:{caller.name}",
                                        body.reason, datetime.now(UTC)))
