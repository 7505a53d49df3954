"""`/v1/people/{person_id}`: a person's data exported (decrypted, the one answer that shows
personal values) or erased (the ledger's amounts and ids kept); admin only, both audited with
the key's name. The same services as `fenrun privacy`."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Path

from api.auth import Caller, allow
from api.deps import BooksDep, DataCipherDep
from api.errors import error_responses
from api.people_schemas import ErasedOut, EraseIn, ExportOut
from settlement.errors import NotFound
from settlement.people_errors import ErasureRefused
from settlement.personal_data import DataKeyMissing
from settlement.privacy import erase_person, export_person

router = APIRouter(prefix="/v1/people", tags=["privacy"])
PersonId = Annotated[str, Path(min_length=1, max_length=128)]
AdminCaller = Annotated[Caller, allow("admin")]


@router.get("/{person_id}/export",
            responses=error_responses(NotFound, DataKeyMissing, validated=True))
def export(person_id: PersonId, books: BooksDep, cipher: DataCipherDep,
           caller: AdminCaller) -> ExportOut:
    """Everything held about one person, personal fields decrypted; audited."""
    with books.begin() as conn:
        document = export_person(conn, cipher, person_id, f"key:{caller.name}",
                                 datetime.now(UTC))
    person, at = document.pop("person_id"), document.pop("exported_at")
    return ExportOut(person_id=person, exported_at=at, sections=document)


@router.post("/{person_id}/erase",
             responses=error_responses(NotFound, ErasureRefused, validated=True))
def erase(person_id: PersonId, body: EraseIn, books: BooksDep,
          caller: AdminCaller) -> ErasedOut:
    """Erase one person's personal fields; ledger amounts and ids stay. Audited. 409
    `erasure_refused` while money is on its way to their payee (it names what to settle)."""
    with books.begin() as conn:
        erased = erase_person(conn, person_id, f"key:{caller.name}", body.reason,
                              datetime.now(UTC))
    return ErasedOut(person_id=person_id, erased=erased)
