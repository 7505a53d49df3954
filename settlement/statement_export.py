"""Statements as files for finance: CSV (one summary file, one lines file) and one Excel workbook
with both as sheets. Amounts are decimal strings in the currency (never floats, so a spreadsheet
shows exactly the fen the ledger holds)."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence

from settlement.money import format_amount
from settlement.statements import Statement, StatementLine

SUMMARY_COLUMNS = ("promoter_id", "period", "currency", "opening", "commission",
                   "holds_released", "clawback", "payouts", "withdrawals", "closing")
LINE_COLUMNS = ("promoter_id", "occurred_at", "kind", "order_id", "level", "amount", "entry_id")
MAX_EXCEL_ROWS = 1_048_575  # a sheet's limit, less the header


def summary_rows(statements: Sequence[Statement]) -> list[list[str]]:
    rows = []
    for s in statements:
        money = [format_amount(v, s.currency) for v in (
            s.opening_minor, s.commission_minor, s.released_minor, s.clawback_minor,
            s.payout_minor, s.withdrawal_minor, s.closing_minor)]
        rows.append([s.promoter_id, s.period, s.currency, *money])
    return rows


def line_rows(lines: Sequence[StatementLine], currency: str) -> list[list[str]]:
    return [[line.promoter_id, line.occurred_at.strftime("%Y-%m-%dT%H:%M:%SZ"), line.kind,
             line.order_id or "", "" if line.level is None else str(line.level),
             format_amount(line.amount_minor, currency), line.entry_id] for line in lines]


def _csv(header: Sequence[str], rows: list[list[str]]) -> str:
    handle = io.StringIO(newline="")
    writer = csv.writer(handle)
    writer.writerow(header)
    writer.writerows(rows)
    return handle.getvalue()


def statements_csv(statements: Sequence[Statement]) -> str:
    return _csv(SUMMARY_COLUMNS, summary_rows(statements))


def lines_csv(lines: Sequence[StatementLine], currency: str) -> str:
    return _csv(LINE_COLUMNS, line_rows(lines, currency))


def statements_xlsx(statements: Sequence[Statement], lines: Sequence[StatementLine],
                    currency: str) -> bytes:
    """A workbook with a "statements" and a "lines" sheet (amounts as text: exact)."""
    from openpyxl import Workbook  # only the export needs it

    if len(lines) > MAX_EXCEL_ROWS:
        raise ValueError(f"lines: {len(lines)} rows do not fit an Excel sheet; use the CSV")
    book = Workbook()
    summary = book.active
    summary.title = "statements"
    summary.append(list(SUMMARY_COLUMNS))
    for row in summary_rows(statements):
        summary.append(row)
    detail = book.create_sheet("lines")
    detail.append(list(LINE_COLUMNS))
    for row in line_rows(lines, currency):
        detail.append(row)
    handle = io.BytesIO()
    book.save(handle)
    return handle.getvalue()
