"""`/v1/promoters/{id}/payees`: give a promoter a payee (stored encrypted) and list its payees,
always masked. The same service as `fenrun payees` (`settlement.payees`)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Request

from api.auth import Caller, allow
from api.deps import BooksDep, DataCipherDep
from api.errors import error_responses
from api.money_schemas import PayeeIn, PayeeOut, PayeesOut
from api.routes.promoters import PromoterId
from settlement.config import FinanceSettings
from settlement.errors import InvalidPayee, NotFound
from settlement.payees import add_payee, list_payees
from settlement.personal_data import DataKeyMissing

router = APIRouter(prefix="/v1/promoters", tags=["payees"])
MallOrFinance = Annotated[Caller, allow("mall", "finance")]


def app_finance(request: Request) -> FinanceSettings:
    """The money-out settings, read once per app from the `FENRUN_` environment."""
    settings: FinanceSettings | None = getattr(request.app.state, "finance_settings", None)
    if settings is None:
        settings = request.app.state.finance_settings = FinanceSettings()
    return settings


@router.post("/{promoter_id:path}/payees", status_code=201,
             responses=error_responses(NotFound, InvalidPayee, DataKeyMissing, validated=True))
def add(promoter_id: PromoterId, body: PayeeIn, books: BooksDep, cipher: DataCipherDep,
        caller: MallOrFinance) -> PayeeOut:
    """A new active payee for a joined promoter (its previous one is retired); the name and
    account are encrypted at rest and answered masked."""
    with books.begin() as conn:
        payee = add_payee(conn, cipher, promoter_id, body.method, body.holder_name,
                          body.account, body.bank_name, caller.name, datetime.now(UTC))
    return PayeeOut.of(payee)


@router.get("/{promoter_id:path}/payees", dependencies=[allow("mall", "finance")],
            responses=error_responses(validated=True))
def payees(promoter_id: PromoterId, books: BooksDep) -> PayeesOut:
    """The promoter's payees, newest first, masked."""
    with books.connect() as conn:
        return PayeesOut(payees=[PayeeOut.of(p) for p in list_payees(conn, promoter_id)])
