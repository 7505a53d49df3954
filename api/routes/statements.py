"""`/v1/statements`: build a period's statements, list them, export them as CSV or Excel for
finance, and one promoter's statement with its lines. The same services as `fenrun statements`
(`settlement.statements`, `settlement.statement_store`, `settlement.statement_export`)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query
from fastapi.responses import Response
from sqlalchemy import Engine

from api.auth import Caller, allow
from api.deps import BooksDep
from api.errors import Refused, error_responses
from api.money_schemas import (
    PromoterStatementOut,
    StatementBuildIn,
    StatementLineOut,
    StatementOut,
    StatementsOut,
)
from api.routes.promoters import PromoterId
from settlement.errors import InvalidEvent, NotFound
from settlement.plan_store import load_plan_book
from settlement.statement_export import lines_csv, statements_csv, statements_xlsx
from settlement.statement_periods import Period, parse_period
from settlement.statement_store import build_period, stored_statement, stored_statements
from settlement.statements import build_statements

router = APIRouter(tags=["statements"])
FinanceCaller = Annotated[Caller, allow("finance")]
PeriodText = Annotated[str, Path(max_length=32, description="2026-03, 2026-W11 or 2026-03-15")]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _currency(books: Engine, period: Period) -> str:
    with books.connect() as conn:
        plans = load_plan_book(conn)
    if not plans:
        raise Refused(409, "no_plan", "no plan version is stored: POST /v1/plans first")
    return plans.version_at(min(period.end, datetime.now(UTC))).currency


@router.post("/v1/statements/build", responses=error_responses(InvalidEvent, validated=True))
def build(body: StatementBuildIn, books: BooksDep, caller: FinanceCaller) -> StatementsOut:
    """Build and store every promoter's statement of the period, each reconciled with the
    ledger (rebuilding a period replaces its figures)."""
    period = parse_period(body.period)
    statements, _ = build_period(books, _currency(books, period), period, caller.name,
                                 datetime.now(UTC))
    return StatementsOut(statements=[StatementOut.of(s) for s in statements])


@router.get("/v1/statements", dependencies=[allow("finance")],
            responses=error_responses(validated=True))
def statements(books: BooksDep,
               period: Annotated[str | None, Query(max_length=32)] = None) -> StatementsOut:
    """Stored statements (of one period)."""
    with books.connect() as conn:
        return StatementsOut(statements=[StatementOut.of(s)
                                         for s in stored_statements(conn, period)])


def _built(books: Engine, label: str) -> tuple[Period, str]:
    period = parse_period(label)
    return period, _currency(books, period)


@router.get("/v1/statements/{period}/export.csv", dependencies=[allow("finance")],
            response_class=Response,
            responses={200: {"content": {"text/csv": {}}, "description": "statements"},
                       **error_responses(InvalidEvent, validated=True)})
def export_csv(period: PeriodText, books: BooksDep,
               lines: Annotated[bool, Query(description="the lines instead")] = False
               ) -> Response:
    """The period's statements (or, with `lines`, every line) as CSV, read from the ledger."""
    chosen, currency = _built(books, period)
    with books.connect() as conn:
        statements, found = build_statements(conn, currency, chosen)
    text = lines_csv(found, currency) if lines else statements_csv(statements)
    return Response(text, media_type="text/csv")


@router.get("/v1/statements/{period}/export.xlsx", dependencies=[allow("finance")],
            response_class=Response,
            responses={200: {"content": {XLSX: {}}, "description": "statements and lines"},
                       **error_responses(InvalidEvent, validated=True)})
def export_xlsx(period: PeriodText, books: BooksDep) -> Response:
    """The period's statements and lines as an Excel workbook (two sheets)."""
    chosen, currency = _built(books, period)
    with books.connect() as conn:
        statements, found = build_statements(conn, currency, chosen)
    return Response(statements_xlsx(statements, found, currency), media_type=XLSX,
                    headers={"Content-Disposition":
                             f'attachment; filename="statements-{chosen.label}.xlsx"'})


@router.get("/v1/promoters/{promoter_id:path}/statements/{period}",
            dependencies=[allow("finance")],
            responses=error_responses(NotFound, InvalidEvent, validated=True))
def promoter_statement(promoter_id: PromoterId, period: PeriodText,
                       books: BooksDep) -> PromoterStatementOut:
    """One promoter's stored statement of a period, with every line (404 until it is built)."""
    return statement_of(books, promoter_id, period)


def statement_of(books: Engine, promoter_id: str, period: str) -> PromoterStatementOut:
    """One promoter's stored statement with its lines (`promoter_statement`; also
    `/v1/me/statements/{period}`)."""
    chosen = parse_period(period)
    with books.connect() as conn:
        statement = stored_statement(conn, promoter_id, chosen.label)
        _, lines = build_statements(conn, statement.currency, chosen, [promoter_id])
    return PromoterStatementOut(statement=StatementOut.of(statement),
                                lines=[StatementLineOut.of(line, statement.currency)
                                       for line in lines])
