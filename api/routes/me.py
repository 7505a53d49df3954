"""`/v1/me/...`: a promoter's own money, read and asked for with its own key. The key's name is
its promoter id (as `/v1/me/invite-codes`), so a promoter key reaches only that promoter's
balances, statements and withdrawals; nothing here takes a promoter id from the request. Each
route calls the same function as its finance counterpart (`/v1/promoters/{id}/balances`,
`/v1/promoters/{id}/statements/{period}`, `/v1/withdrawals`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request

from api.auth import Caller, allow
from api.books_schemas import PromoterBalanceOut
from api.deps import BooksDep
from api.errors import error_responses
from api.money_schemas import (
    OwnWithdrawalIn,
    PromoterStatementOut,
    WithdrawalOut,
    WithdrawalsOut,
)
from api.routes.balances import balance_of
from api.routes.payees import app_finance
from api.routes.statements import PeriodText, statement_of
from api.routes.withdrawals import MAX_LIST, Status, request_for
from settlement.errors import InvalidEvent, NotFound, WithdrawalRefused
from settlement.withdrawals import list_withdrawals

router = APIRouter(prefix="/v1/me", tags=["me"])
PromoterCaller = Annotated[Caller, allow("promoter")]


@router.get("/balances", responses=error_responses(NotFound))
def my_balances(books: BooksDep, caller: PromoterCaller) -> PromoterBalanceOut:
    """The key's promoter's balances: pending, available, paid, clawback receivable and
    withdrawing (404 if the key's name is no promoter in the books)."""
    return balance_of(books, caller.name)


@router.get("/statements/{period}",
            responses=error_responses(NotFound, InvalidEvent, validated=True))
def my_statement(period: PeriodText, books: BooksDep,
                 caller: PromoterCaller) -> PromoterStatementOut:
    """The key's promoter's stored statement of a period, with every line (404 until built)."""
    return statement_of(books, caller.name, period)


@router.post("/withdrawals", responses=error_responses(NotFound, WithdrawalRefused, InvalidEvent,
                                                       validated=True))
def my_withdrawal(body: OwnWithdrawalIn, request: Request, books: BooksDep,
                  caller: PromoterCaller) -> WithdrawalOut:
    """Ask for part of the key's promoter's available balance, to its own payee (the active one
    unless named; another promoter's payee is refused); the same rules and review as
    `POST /v1/withdrawals`, recorded as requested by the promoter."""
    return request_for(books, app_finance(request), caller.name, body.amount, body.request_key,
                       body.payee_id, caller.name)


@router.get("/withdrawals", responses=error_responses(validated=True))
def my_withdrawals(books: BooksDep, caller: PromoterCaller, status: Status = None,
                   limit: Annotated[int, Query(ge=1, le=MAX_LIST)] = 1000) -> WithdrawalsOut:
    """The key's promoter's withdrawals by id (of one status)."""
    with books.connect() as conn:
        found = list_withdrawals(conn, status, caller.name, limit)
    return WithdrawalsOut(withdrawals=[WithdrawalOut.of(w) for w in found])
