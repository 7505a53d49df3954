"""`/v1/withdrawals`: a promoter's request (sent by the mall or finance), the list, and a
reviewer's approval or rejection with who and why. The same service as `fenrun withdrawals`
(`settlement.withdrawals`; rules from `FENRUN_WITHDRAWAL_*`)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from sqlalchemy import Engine

from api.auth import Caller, allow
from api.deps import BooksDep
from api.errors import Refused, error_responses
from api.money_schemas import DecisionIn, WithdrawalIn, WithdrawalOut, WithdrawalsOut
from api.routes.payees import app_finance
from settlement.config import FinanceSettings
from settlement.errors import InvalidEvent, NotFound, WithdrawalRefused
from settlement.money import parse_amount
from settlement.plan_store import load_plan_book
from settlement.withdrawals import (
    WithdrawalRules,
    decide_withdrawal,
    list_withdrawals,
    request_withdrawal,
)

router = APIRouter(prefix="/v1/withdrawals", tags=["withdrawals"])
FinanceCaller = Annotated[Caller, allow("finance")]
WithdrawalId = Annotated[int, Path(ge=1, le=2**63 - 1)]
Status = Annotated[str | None, Query(pattern="^(requested|approved|paid|failed|rejected)$")]
MAX_LIST = 10_000


@router.post("", responses=error_responses(NotFound, WithdrawalRefused, InvalidEvent,
                                           validated=True))
def request(body: WithdrawalIn, request: Request, books: BooksDep,
            caller: Annotated[Caller, allow("mall", "finance")]) -> WithdrawalOut:
    """Reserve part of the promoter's available balance; above the review limit, or first to a
    new payee, it waits for a reviewer. The same `request_key` again returns the first request."""
    return request_for(books, app_finance(request), body.promoter_id, body.amount,
                       body.request_key, body.payee_id, caller.name)


def request_for(books: Engine, finance: FinanceSettings, promoter_id: str, amount_text: str,
                request_key: str, payee_id: int | None, requested_by: str) -> WithdrawalOut:
    """A withdrawal request in the current plan's currency (`POST /v1/withdrawals`; also
    `POST /v1/me/withdrawals`, where the promoter is the key's)."""
    now = datetime.now(UTC)
    with books.connect() as conn:
        plans = load_plan_book(conn)
    if not plans:
        raise Refused(409, "no_plan", "no plan version is stored: POST /v1/plans first")
    currency = plans.version_at(now).currency
    rules = WithdrawalRules.of(finance, currency)
    amount = parse_amount(amount_text, currency, "amount")
    made = request_withdrawal(books, rules, promoter_id, amount, request_key, requested_by, now,
                              payee_id)
    return WithdrawalOut.of(made)


@router.get("", dependencies=[allow("finance")], responses=error_responses(validated=True))
def withdrawals(books: BooksDep, status: Status = None,
                promoter_id: Annotated[str | None, Query(max_length=128)] = None,
                limit: Annotated[int, Query(ge=1, le=MAX_LIST)] = 1000) -> WithdrawalsOut:
    """Withdrawals by id (of one status or promoter)."""
    with books.connect() as conn:
        found = list_withdrawals(conn, status, promoter_id, limit)
    return WithdrawalsOut(withdrawals=[WithdrawalOut.of(w) for w in found])


@router.post("/{withdrawal_id}/approve",
             responses=error_responses(NotFound, WithdrawalRefused, validated=True))
def approve(withdrawal_id: WithdrawalId, body: DecisionIn, books: BooksDep,
            caller: FinanceCaller) -> WithdrawalOut:
    """Approve a requested withdrawal (it goes out in the next bank batch), with who and why."""
    return WithdrawalOut.of(decide_withdrawal(books, withdrawal_id, True, caller.name,
                                              body.note, datetime.now(UTC)))


@router.post("/{withdrawal_id}/reject",
             responses=error_responses(NotFound, WithdrawalRefused, validated=True))
def reject(withdrawal_id: WithdrawalId, body: DecisionIn, books: BooksDep,
           caller: FinanceCaller) -> WithdrawalOut:
    """Reject a requested withdrawal (the money is available again), with who and why."""
    return WithdrawalOut.of(decide_withdrawal(books, withdrawal_id, False, caller.name,
                                              body.note, datetime.now(UTC)))
