"""`fenrun import-orders FILE.csv`: load a mall's order history into the books, all or nothing.

Exit codes as for `fenrun settle`: 0 imported (or already there), 1 rows were rejected (each on
stderr as `FILE:ROW: field: reason`; nothing stored), 2 an option, file or plan error.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy import Engine

from api.common import fail, open_books, stored_plans
from features.importer import (
    DateRules,
    ImporterError,
    ImportOptions,
    ImportRejected,
    ImportSummary,
    import_orders,
    parse_column_mapping,
    parse_zone,
    read_order_file,
)
from settlement.errors import SettlementError
from settlement.money import format_amount
from settlement.plan import PlanBook

MAX_REJECTS_SHOWN = 1000  # a broken 1M-row file should not flood the terminal


def _open_books() -> tuple[Engine, PlanBook]:
    """The configured books (schema created if empty) and their stored plan versions."""
    engine = open_books()
    return engine, stored_plans(engine)


def _options(columns: list[str], timezone: str, date_format: str | None, merchant: str | None,
             category: str, refund_scope: str, refund_delay_days: int, encoding: str,
             delimiter: str) -> ImportOptions:
    try:
        return ImportOptions(
            columns=parse_column_mapping(columns),
            dates=DateRules(parse_zone(timezone), date_format),
            merchant_id=merchant, default_category=category, refund_scope=refund_scope,
            refund_delay=timedelta(days=refund_delay_days), encoding=encoding,
            delimiter="\t" if delimiter in ("\\t", "tab") else delimiter)
    except ImporterError as error:
        fail(str(error))


def _money(amounts: dict[str, int]) -> str:
    return ", ".join(f"{format_amount(v, c)} {c}" for c, v in sorted(amounts.items())) or "0"


def _print_summary(path: Path, summary: ImportSummary) -> None:
    verb = "would import" if summary.dry_run else "imported"
    typer.echo(f"{verb} {path}: {summary.rows} rows, {summary.orders} orders, "
               f"{summary.lines} lines, {summary.customers} customers, "
               f"{summary.promoters} promoters ({summary.new_promoters} new)")
    typer.echo(f"  GMV {_money(summary.gmv_minor)}, refunds {_money(summary.refunded_minor)}")
    if summary.first_at and summary.last_at:
        typer.echo(f"  from {summary.first_at.isoformat()} to {summary.last_at.isoformat()}")
    typer.echo(f"  events applied {summary.events_applied}, already in the books "
               f"{summary.events_already_present}, holds released {summary.holds_released}")


def _report(path: Path, rejected: ImportRejected) -> None:
    for reject in rejected.rejects[:MAX_REJECTS_SHOWN]:
        typer.echo(f"{path}:{reject.row}: {reject}", err=True)
    hidden = len(rejected.rejects) - MAX_REJECTS_SHOWN
    if hidden > 0:
        typer.echo(f"... and {hidden} more", err=True)
    typer.echo(f"fenrun: {rejected}", err=True)


Opt = typer.Option


def import_orders_command(
    path: Annotated[Path, typer.Argument(help="CSV export, one row per order or per line")],
    column: Annotated[list[str] | None, Opt("--column", help="NAME=HEADER, e.g. ts=created; "
                                            "repeatable")] = None,
    timezone: Annotated[str, Opt(help="zone of naive times: UTC, +08:00, Asia/Shanghai")] = "UTC",
    date_format: Annotated[str | None, Opt(help="strptime pattern tried first, e.g. "
                                           "%d/%m/%Y %H:%M")] = None,
    merchant: Annotated[str | None, Opt(help="merchant_id of rows without one")] = None,
    category: Annotated[str, Opt(help="category of rows without one")] = "uncategorized",
    refund_scope: Annotated[str, Opt(help="refunded_amount is per row (line) or per order "
                                     "(order: spread over its lines)")] = "line",
    refund_delay_days: Annotated[int, Opt(help="refund instant after ts when refunded_at is "
                                          "missing")] = 0,
    encoding: Annotated[str, Opt(help="text encoding, e.g. gbk")] = "utf-8-sig",
    delimiter: Annotated[str, Opt(help="field separator (tab: \\t)")] = ",",
    dry_run: Annotated[bool, Opt(help="validate and apply, then roll back")] = False,
) -> None:
    """Import a mall's order history: every row valid and accepted, or nothing stored."""
    options = _options(column or [], timezone, date_format, merchant, category, refund_scope,
                       refund_delay_days, encoding, delimiter)
    engine, plans = _open_books()
    try:
        summary = import_orders(engine, plans, read_order_file(path, options, plans), dry_run)
    except ImportRejected as rejected:
        _report(path, rejected)
        raise typer.Exit(1) from None
    except (ImporterError, SettlementError) as error:
        fail(f"{path}: {error}")
    _print_summary(path, summary)


def register(app: typer.Typer) -> None:
    app.command("import-orders")(import_orders_command)
