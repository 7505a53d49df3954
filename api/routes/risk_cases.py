"""`/v1/risk/cases`: the risk team's work queue, a case's evidence, and the decisions (recorded
with the key's name and the note). The same services as `fenrun risk cases|case|investigate|
confirm|dismiss` (`serving.risk_cases`, `settlement.risk_actions`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from api.auth import Caller, allow
from api.deps import BooksDep
from api.errors import Refused, error_responses
from api.risk_schemas import (
    CaseConfirmIn,
    CaseDetailOut,
    CaseDismissIn,
    CaseNoteIn,
    CaseOut,
    CasesOut,
    CaseStatusText,
    DecisionOut,
)
from serving.risk_cases import case_detail
from settlement.errors import NotFound
from settlement.plan_store import load_plan_book
from settlement.risk_actions import confirm_case, dismiss_case, investigate_case
from settlement.risk_cases import MAX_LISTED, list_cases
from settlement.risk_domain import CaseError, CaseStatus

router = APIRouter(prefix="/v1/risk", tags=["risk"])
RiskCaller = Annotated[Caller, allow("risk")]
CaseId = Annotated[int, Path(ge=1, le=2**63 - 1)]


@router.get("/cases", dependencies=[allow("risk")], responses=error_responses(validated=True))
def cases(books: BooksDep, status: Annotated[list[CaseStatusText] | None, Query()] = None,
          limit: Annotated[int, Query(ge=1, le=MAX_LISTED)] = 100) -> CasesOut:
    """Cases by money at risk, largest first; `status` repeats (default: open, investigating)."""
    wanted = [CaseStatus(s) for s in status] if status else None
    with books.connect() as conn:
        return CasesOut(cases=[CaseOut.of(c) for c in list_cases(conn, wanted, limit)])


@router.get("/cases/{case_id}", dependencies=[allow("risk")],
            responses=error_responses(NotFound, validated=True))
def case(case_id: CaseId, books: BooksDep) -> CaseDetailOut:
    """A case's flags with their evidence, its orders with the commission at risk, its trail."""
    with books.connect() as conn:
        return CaseDetailOut.of(case_detail(conn, case_id))


@router.post("/cases/{case_id}/investigate",
             responses=error_responses(NotFound, CaseError, validated=True))
def investigate(case_id: CaseId, body: CaseNoteIn, books: BooksDep,
                caller: RiskCaller) -> DecisionOut:
    """Take the case: open -> investigating."""
    return DecisionOut.of(investigate_case(books, case_id, caller.name, body.note))


@router.post("/cases/{case_id}/confirm",
             responses=error_responses(NotFound, CaseError, validated=True))
def confirm(case_id: CaseId, body: CaseConfirmIn, books: BooksDep,
            caller: RiskCaller) -> DecisionOut:
    """Confirm fraud: freeze the case's pending commission, reverse every level's commission on
    its orders (a claw-back for what was released or paid), suspend the promoter. Confirming a
    confirmed case books nothing new (`changed` false)."""
    with books.connect() as conn:
        plans = load_plan_book(conn)
    if not plans:
        raise Refused(409, "no_plan", "no plan version is stored: POST /v1/plans first")
    return DecisionOut.of(confirm_case(books, plans, case_id, caller.name, body.note,
                                       body.suspend))


@router.post("/cases/{case_id}/dismiss",
             responses=error_responses(NotFound, CaseError, validated=True))
def dismiss(case_id: CaseId, body: CaseDismissIn, books: BooksDep,
            caller: RiskCaller) -> DecisionOut:
    """Not fraud: lift the case's holds (orders past their hold period are released now),
    recording why."""
    return DecisionOut.of(dismiss_case(books, case_id, caller.name, body.note))
