"""`fenrun statements build|threshold|show`: promoter statements per cycle period (or when a
balance passes `FENRUN_STATEMENT_THRESHOLD`), reconciled with the ledger, exported as CSV and
Excel for finance (`settlement.statements`, `settlement.statement_export`)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from api.common import cli_actor, fail, money_as_of, open_books, stored_plans
from api.exits import exit_codes
from settlement.config import FinanceSettings
from settlement.money import format_amount, parse_amount
from settlement.statement_export import lines_csv, statements_csv, statements_xlsx
from settlement.statement_periods import last_complete, parse_period
from settlement.statement_store import build_period, build_threshold, stored_statement
from settlement.statements import Statement

statements_app = typer.Typer(help="Promoter statements.", no_args_is_help=True)


def _print(statements: list[Statement]) -> None:
    typer.echo(f"{'promoter':<20}{'opening':>14}{'commission':>14}{'released':>14}"
               f"{'clawback':>12}{'payouts':>14}{'withdrawals':>14}{'closing':>14}")
    for s in statements:
        cells = [format_amount(v, s.currency) for v in (
            s.opening_minor, s.commission_minor, s.released_minor)]
        typer.echo(f"{s.promoter_id:<20}{cells[0]:>14}{cells[1]:>14}{cells[2]:>14}"
                   f"{format_amount(s.clawback_minor, s.currency):>12}"
                   f"{format_amount(s.payout_minor, s.currency):>14}"
                   f"{format_amount(s.withdrawal_minor, s.currency):>14}"
                   f"{format_amount(s.closing_minor, s.currency):>14}")


@statements_app.command("build")
def statements_build(
    period: Annotated[str | None, typer.Option(help="2026-03, 2026-W11 or 2026-03-15; default "
                                                    "the last complete FENRUN_STATEMENT_CYCLE")
                      ] = None,
    out: Annotated[Path, typer.Option(help="where the CSV and Excel files go")] = Path(
        ".fenrun/statements"),
    show: Annotated[bool, typer.Option(help="print every statement")] = False,
) -> None:
    """Build, store and export every promoter's statement of a period."""
    now = datetime.now(UTC)
    with exit_codes():
        chosen = parse_period(period) if period else last_complete(
            FinanceSettings().statement_cycle, now)
    engine = open_books(create=False)
    currency = stored_plans(engine).version_at(min(chosen.end, now)).currency
    with exit_codes():
        statements, lines = build_period(engine, currency, chosen, cli_actor(), now)
    try:
        out.mkdir(parents=True, exist_ok=True)
        (out / f"statements-{chosen.label}.csv").write_text(statements_csv(statements),
                                                            encoding="utf-8")
        (out / f"statement-lines-{chosen.label}.csv").write_text(lines_csv(lines, currency),
                                                                 encoding="utf-8")
        (out / f"statements-{chosen.label}.xlsx").write_bytes(
            statements_xlsx(statements, lines, currency))
    except OSError as error:
        fail(f"--out: cannot write to {out}: {error.strerror}")
    if show:
        _print(statements)
    typer.echo(f"{chosen.label}: {len(statements)} statement(s), {len(lines)} line(s), each "
               f"reconciled with the ledger; written to {out}/statements-{chosen.label}.csv, "
               f".xlsx and statement-lines-{chosen.label}.csv")


@statements_app.command("threshold")
def statements_threshold(
    as_of: Annotated[str | None, typer.Option("--as-of")] = None,
    allow_future: Annotated[bool, typer.Option("--allow-future")] = False,
) -> None:
    """A statement for every promoter whose balance passed FENRUN_STATEMENT_THRESHOLD."""
    at = money_as_of(as_of, allow_future) if as_of else datetime.now(UTC)
    threshold = FinanceSettings().statement_threshold
    if threshold is None:
        fail("FENRUN_STATEMENT_THRESHOLD is not set: no balance threshold is configured")
    engine = open_books(create=False)
    currency = stored_plans(engine).version_at(at).currency
    with exit_codes():
        limit = parse_amount(threshold, currency, "FENRUN_STATEMENT_THRESHOLD")
        made = build_threshold(engine, currency, limit, at, cli_actor())
    _print(made)
    typer.echo(f"{len(made)} promoter(s) passed {threshold} {currency}")


@statements_app.command("show")
def statements_show(promoter_id: str, period: Annotated[str, typer.Option()]) -> None:
    """One stored statement."""
    with exit_codes(), open_books(create=False).connect() as conn:
        _print([stored_statement(conn, promoter_id, period)])


def register(app: typer.Typer) -> None:
    app.add_typer(statements_app, name="statements")
