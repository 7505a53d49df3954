"""Balances and ledger lines, read through `settlement.read_model` / `settlement.ledger_lines`.

The mall's backend reads any promoter's balances (it serves its promoters, who see theirs in the
mall's app); finance reads everything.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import AwareDatetime
from sqlalchemy import Engine

from api.auth import allow
from api.books_schemas import (
    LedgerLineOut,
    LedgerLinesOut,
    MerchantBalanceOut,
    MerchantBalancesOut,
    PlatformBalanceOut,
    PromoterBalanceOut,
)
from api.deps import ApiSettingsDep, BooksDep
from api.errors import error_responses
from api.routes.promoters import PromoterId
from settlement.errors import NotFound
from settlement.ledger import AccountKind, EntryKind, readable_balance
from settlement.ledger_lines import promoter_known, promoter_lines
from settlement.money import format_amount
from settlement.read_model import account_balances, books_currencies, promoter_balances

router = APIRouter(prefix="/v1", tags=["balances"])


@router.get("/promoters/{promoter_id:path}/balances", dependencies=[allow("mall", "finance")],
            responses=error_responses(NotFound, validated=True))
def promoter_balance(promoter_id: PromoterId, books: BooksDep) -> PromoterBalanceOut:
    """What the books owe the promoter now: pending (inside the hold), available (net of
    clawbacks, may be negative), paid, the clawback receivable, and what withdrawals requested
    or sent hold (`withdrawing`: no longer available, not yet paid). 404 for a promoter who
    never joined; zeros for one who joined and earned nothing yet."""
    return balance_of(books, promoter_id)


def balance_of(books: Engine, promoter_id: str) -> PromoterBalanceOut:
    """One promoter's balances (`promoter_balance`; also `/v1/me/balances`)."""
    with books.connect() as conn:
        if not promoter_known(conn, promoter_id):
            raise NotFound(f"promoter_id: no promoter {promoter_id!r} in the books")
        currency = books_currencies(conn)[0]
        balance = promoter_balances(conn, currency, [promoter_id]).get(promoter_id)
    pending, available, paid, clawback = (
        (balance.pending_minor, balance.available_minor, balance.paid_minor,
         balance.clawback_minor) if balance else (0, 0, 0, 0))
    return PromoterBalanceOut(
        promoter_id=promoter_id, currency=currency, pending=format_amount(pending, currency),
        available=format_amount(available, currency), paid=format_amount(paid, currency),
        clawback_receivable=format_amount(clawback, currency),
        withdrawing=format_amount(balance.withdrawing_minor if balance else 0, currency))


@router.get("/promoters/{promoter_id:path}/ledger", dependencies=[allow("finance")],
            responses=error_responses(NotFound, validated=True))
def promoter_ledger(
    promoter_id: PromoterId, books: BooksDep, api: ApiSettingsDep,
    limit: Annotated[int, Query(ge=1, le=10_000, description="lines per page (at most "
                                "FENRUN_API_PAGE_MAX, default 1000)")] = 100,
    after: Annotated[int | None, Query(ge=0, description="`next_after` of the previous page")
                     ] = None,
    account: AccountKind | None = None,
    kind: EntryKind | None = None,
    since: Annotated[AwareDatetime | None, Query(description="entries at or after (with offset)")
                     ] = None,
    until: Annotated[AwareDatetime | None, Query(description="entries before (with offset)")
                     ] = None,
) -> LedgerLinesOut:
    """The promoter's postings (pending, available, paid, clawback accounts) with their
    entries, oldest first, paged by posting id."""
    size = min(limit, api.page_max)
    with books.connect() as conn:
        if not promoter_known(conn, promoter_id):
            raise NotFound(f"promoter_id: no promoter {promoter_id!r} in the books")
        lines = promoter_lines(conn, promoter_id, limit=size, after=after,
                               account_kind=account.value if account else None,
                               entry_kind=kind.value if kind else None, since=since, until=until)
    out = [LedgerLineOut(posting_id=line.posting_id, entry_id=line.entry_id, kind=line.kind,
                         occurred_at=line.occurred_at, event_id=line.event_id,
                         account=line.account_kind, currency=line.currency,
                         amount=format_amount(line.amount_minor, line.currency))
           for line in lines]
    return LedgerLinesOut(lines=out, next_after=lines[-1].posting_id if len(lines) == size
                          else None)


@router.get("/merchants/balances", dependencies=[allow("finance")],
            responses=error_responses(validated=True))
def merchant_balances(
    books: BooksDep, api: ApiSettingsDep,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 100,
    after: Annotated[str | None, Query(max_length=128, description="`next_after` of the "
                                       "previous page")] = None,
) -> MerchantBalancesOut:
    """What the mall owes each merchant, by merchant id, paged."""
    size = min(limit, api.page_max)
    with books.connect() as conn:
        currency = books_currencies(conn)[0]
        rows = account_balances(conn, kinds=(AccountKind.MERCHANT_PAYABLE.value,),
                                currency=currency)
    owed = sorted((row.owner_id, readable_balance(row.account_kind, row.raw_minor))
                  for row in rows if after is None or row.owner_id > after)[:size]
    return MerchantBalancesOut(
        currency=currency,
        merchants=[MerchantBalanceOut(merchant_id=m, payable=format_amount(a, currency))
                   for m, a in owed],
        next_after=owed[-1][0] if len(owed) == size else None)


@router.get("/platform/balance", dependencies=[allow("finance")])
def platform_balance(books: BooksDep) -> PlatformBalanceOut:
    """The platform's revenue (its take), in the books' currency."""
    with books.connect() as conn:
        currency = books_currencies(conn)[0]
        rows = account_balances(conn, kinds=(AccountKind.PLATFORM_REVENUE.value,),
                                currency=currency)
    revenue = sum(readable_balance(row.account_kind, row.raw_minor) for row in rows)
    return PlatformBalanceOut(currency=currency, revenue=format_amount(revenue, currency))
