"""`/v1/payouts`: run a batch as of an instant, list, approve or reject (recording the key's name
and the note), export CSV; and `/v1/ledger/verify`. The same services as `fenrun payouts` and
`fenrun ledger verify` (`settlement.payouts`, `settlement.reports`)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query
from fastapi.responses import Response

from api.auth import Caller, allow
from api.books_schemas import (
    LedgerCheckOut,
    PayoutDecisionIn,
    PayoutOut,
    PayoutRunIn,
    PayoutsOut,
)
from api.common import future_as_of
from api.deps import ApiSettingsDep, BooksDep
from api.errors import Refused, error_responses
from settlement.bank_batches import payout_payees
from settlement.errors import NotFound, PayoutError, PlanError
from settlement.ledger_checks import verify_and_record
from settlement.payouts import (
    approve_payout,
    list_payouts,
    payouts_csv,
    reject_payout,
    run_payouts,
)
from settlement.plan import PlanBook
from settlement.plan_store import load_plan_book

router = APIRouter(prefix="/v1", tags=["payouts"])
Status = Annotated[str | None, Query(pattern="^(paid|awaiting_approval|rejected|failed)$")]
FinanceCaller = Annotated[Caller, allow("finance")]
PayoutId = Annotated[int, Path(ge=1, le=2**63 - 1)]


def _plans(books: BooksDep) -> PlanBook:
    with books.connect() as conn:
        plans = load_plan_book(conn)
    if not plans:
        raise Refused(409, "no_plan", "no plan version is stored: POST /v1/plans first")
    return plans


@router.post("/payouts/run", dependencies=[allow("finance")],
             responses=error_responses(PlanError, validated=True))
def run(body: PayoutRunIn, books: BooksDep) -> PayoutsOut:
    """Release what is due by `as_of`, then pay every promoter whose available balance reaches
    the plan's minimum; sums above the review limit wait for approval, and what open risk cases
    put at risk is kept back (named in `kept_back_reason`)."""
    problem = future_as_of(body.as_of, body.allow_future, "as_of", "allow_future")
    if problem:
        raise Refused(422, "future_as_of", problem)
    made = run_payouts(books, _plans(books), body.as_of, body.hold_flagged)
    return PayoutsOut(payouts=[PayoutOut.of(p) for p in made], next_after=None)


@router.get("/payouts", dependencies=[allow("finance")],
            responses=error_responses(validated=True))
def payouts(books: BooksDep, api: ApiSettingsDep, status: Status = None,
            after: Annotated[int | None, Query(ge=0)] = None,
            limit: Annotated[int, Query(ge=1, le=10_000)] = 100) -> PayoutsOut:
    """Payouts by id, optionally of one status, paged (`after` = the previous `next_after`)."""
    size = min(limit, api.page_max)
    with books.connect() as conn:
        found = [p for p in list_payouts(conn, status) if after is None or p.payout_id > after]
    page = found[:size]
    return PayoutsOut(payouts=[PayoutOut.of(p) for p in page],
                      next_after=page[-1].payout_id if len(found) > size else None)


@router.get("/payouts/export.csv", dependencies=[allow("finance")], response_class=Response,
            responses={200: {"content": {"text/csv": {}}, "description": "the bank file"},
                       **error_responses(validated=True)})
def export(books: BooksDep, status: Status = None) -> Response:
    """The payouts (of one status) as CSV for finance: why each was held, who decided, and the
    (masked) payee of its bank line (the bank file itself is `GET /v1/bank/batches/{id}/file`)."""
    with books.connect() as conn:
        found = list_payouts(conn, status)
        text = payouts_csv(found, payout_payees(conn, [p.payout_id for p in found]))
    return Response(text, media_type="text/csv")


@router.post("/payouts/{payout_id}/approve",
             responses=error_responses(NotFound, PayoutError, validated=True))
def approve(payout_id: PayoutId, body: PayoutDecisionIn, books: BooksDep,
            caller: FinanceCaller) -> PayoutOut:
    """Pay a payout awaiting approval; recorded with the key's name and the note."""
    return PayoutOut.of(approve_payout(books, _plans(books), payout_id, caller.name, body.note))


@router.post("/payouts/{payout_id}/reject",
             responses=error_responses(NotFound, PayoutError, validated=True))
def reject(payout_id: PayoutId, body: PayoutDecisionIn, books: BooksDep,
           caller: FinanceCaller) -> PayoutOut:
    """Reject a payout awaiting approval (the balance stays available), with who and why."""
    return PayoutOut.of(reject_payout(books, _plans(books), payout_id, caller.name, body.note))


@router.get("/ledger/verify")
def ledger_verify(books: BooksDep, caller: FinanceCaller) -> LedgerCheckOut:
    """Every problem in the journal (entries that do not balance, balances that differ from
    their postings, order allocations that do not add up); `ok` when there is none. Each run is
    recorded (who, when, what it found) for the finance page."""
    problems, _ = verify_and_record(books, caller.name, datetime.now(UTC))
    return LedgerCheckOut(ok=not problems, problems=problems)
