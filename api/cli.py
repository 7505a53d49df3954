"""The `fenrun` command line: settle event files, inspect balances, run payouts, verify the books.

Settings are read once per command from `FENRUN_` variables. Exit codes: 0 success, 1 some input
was rejected or a check failed (details on stderr), 2 a plan or argument error (nothing applied).
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from api.commands import register_all
from api.common import (
    ALLOW_FUTURE_HELP,
    apply_plan_file,
    cli_actor,
    fail,
    money_as_of,
    open_books,
    stored_plans,
)
from settlement import db
from settlement.bank_batches import payout_payees
from settlement.config import SettlementSettings
from settlement.errors import SettlementError
from settlement.event_file import index_file
from settlement.ingest import settle_file
from settlement.ledger_checks import verify_and_record
from settlement.money import format_amount
from settlement.payouts import (
    AWAITING_APPROVAL,
    approve_payout,
    export_csv,
    list_payouts,
    reject_payout,
    run_payouts,
)
from settlement.reports import balances_document
from settlement.service import release_due

app = typer.Typer(help="fenrun: promoter commission settlement.", no_args_is_help=True,
                  pretty_exceptions_enable=False)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
payouts_app = typer.Typer(help="Payout batches.", no_args_is_help=True)
ledger_app = typer.Typer(help="The double-entry journal.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(payouts_app, name="payouts")
app.add_typer(ledger_app, name="ledger")

AsOf = Annotated[str, typer.Option("--as-of", help="ISO-8601 instant with an offset")]
AllowFuture = Annotated[bool, typer.Option("--allow-future", help=ALLOW_FUTURE_HELP)]


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Migrate the database schema to the newest revision."""
    engine = db.create_db_engine(SettlementSettings().database_url)
    db.upgrade(engine)
    typer.echo(f"schema at revision {db.current_revision(engine)}")


@app.command()
def settle(
    events: Annotated[Path, typer.Argument(help="JSON-lines event file")],
    plan: Annotated[Path | None, typer.Option(help="plan YAML; stored before settling")] = None,
    as_of: Annotated[str | None, typer.Option("--as-of", help="release holds due by then")] = None,
    allow_future: AllowFuture = False,
) -> None:
    """Apply events in timestamp order, then release the holds due by --as-of."""
    settings = SettlementSettings()
    release_at = money_as_of(as_of, allow_future) if as_of else None
    try:
        index = index_file(events)  # before anything is stored: a missing file changes nothing
    except OSError as error:
        fail(f"EVENTS: cannot read {events}: {error.strerror}")
    engine = open_books(settings)
    if plan is not None:
        apply_plan_file(engine, plan)
    try:
        settled = settle_file(engine, events, settings.batch_size, release_at, index,
                              screen=settings.order_screen_for)
    except SettlementError as error:
        fail(str(error))
    for number, reason in settled.rejects:
        typer.echo(f"{events}:{number}: {reason}", err=True)
    tally = settled.tally
    typer.echo(f"applied {tally.applied}, already applied {tally.duplicate}, "
               f"rejected {len(settled.rejects)}, holds released {tally.released}")
    if settled.rejects:
        raise typer.Exit(1)


@app.command()
def release(as_of: AsOf, allow_future: AllowFuture = False) -> None:
    """Release every hold that ended by --as-of (the live path runs this on a schedule)."""
    at = money_as_of(as_of, allow_future)
    engine = open_books(create=False)
    typer.echo(f"holds released: {release_due(engine, stored_plans(engine), at)}")


@app.command()
def balances(
    format: Annotated[str, typer.Option("--format", help="json or table")] = "table",
) -> None:
    """Balances of every promoter, merchant and the platform."""
    if format not in ("json", "table"):
        fail(f"--format: {format!r} must be json or table")
    with open_books(create=False).connect() as conn:
        document = balances_document(conn)
    if format == "json":
        typer.echo(json.dumps(document, indent=2, ensure_ascii=False))
        return
    # The `withdrawing` column appears only when some promoter has money withdrawing.
    withdrawing = any("withdrawing" in row for row in document["promoters"].values())
    extra = f"{'withdrawing':>14}" if withdrawing else ""
    typer.echo(f"{'promoter':<24}{'pending':>14}{'available':>14}{'paid':>14}{extra}")
    zero = format_amount(0, document["currency"])
    for owner, row in document["promoters"].items():
        extra = f"{row.get('withdrawing', zero):>14}" if withdrawing else ""
        typer.echo(f"{owner:<24}{row['pending']:>14}{row['available']:>14}{row['paid']:>14}"
                   f"{extra}")
    for owner, row in document["merchants"].items():
        typer.echo(f"merchant {owner:<15}{row['payable']:>14}")
    typer.echo(f"platform revenue {document['platform']['revenue']}")


@ledger_app.command("verify")
def ledger_verify() -> None:
    """Exit non-zero if any entry does not balance or any balance differs from its journal."""
    problems, _ = verify_and_record(open_books(create=False), cli_actor(), datetime.now(UTC))
    for problem in problems:
        typer.echo(problem, err=True)
    if problems:
        fail(f"{len(problems)} problem(s) found in the ledger", code=1)
    typer.echo("ledger verified: every entry balances and every balance matches its journal")


def _print_payouts(payouts: list, export: Path | None) -> None:
    for p in payouts:
        amount = format_amount(p.amount_minor, p.currency)
        why = f" ({p.hold_reason})" if p.hold_reason and p.status == AWAITING_APPROVAL else ""
        typer.echo(f"{p.payout_id:>8} {p.promoter_id:<24} {amount:>14} {p.currency} "
                   f"{p.status}{why}")
        if p.kept_back_reason:
            typer.echo(f"{'':>8} {p.kept_back_reason}")
    if export is not None:
        with open_books(create=False).connect() as conn:
            payees = payout_payees(conn, [p.payout_id for p in payouts])
        export_csv(payouts, export, payees)
        typer.echo(f"exported {len(payouts)} payout(s) to {export}")


@payouts_app.command("run")
def payouts_run(
    as_of: AsOf,
    export: Annotated[Path | None, typer.Option(help="write the batch as CSV for finance")] = None,
    hold_flagged: Annotated[bool, typer.Option(
        help="keep back what open risk cases put at risk (`fenrun risk cases`); the rest is paid")
    ] = True,
    allow_future: AllowFuture = False,
) -> None:
    """Release what is due, then pay every promoter whose available balance reaches the minimum."""
    at = money_as_of(as_of, allow_future)
    engine = open_books(create=False)
    try:
        made = run_payouts(engine, stored_plans(engine), at, hold_flagged)
    except SettlementError as error:
        fail(str(error))
    _print_payouts(made, export)
    waiting = sum(p.status == AWAITING_APPROVAL for p in made)
    typer.echo(f"{len(made) - waiting} paid, {waiting} awaiting approval")


Note = Annotated[str, typer.Option(help="why (required), recorded with who decided")]


def _reason(note: str) -> str:
    """A decision that moves money says why: a blank reason is refused before anything."""
    if not note.strip():
        fail("--note: say why; it is recorded with who decided")
    return note.strip()


@payouts_app.command("approve")
def payouts_approve(payout_id: int, note: Note) -> None:
    """Approve a payout above the review limit; it is paid if the balance still covers it."""
    try:
        engine = open_books(create=False)
        payout = approve_payout(engine, stored_plans(engine), payout_id, cli_actor(),
                                _reason(note))
    except SettlementError as error:
        fail(str(error), code=1)
    _print_payouts([payout], None)


@payouts_app.command("reject")
def payouts_reject(payout_id: int, note: Note) -> None:
    """Reject a payout awaiting approval; the balance stays available."""
    try:
        engine = open_books(create=False)
        payout = reject_payout(engine, stored_plans(engine), payout_id, cli_actor(),
                               _reason(note))
    except SettlementError as error:
        fail(str(error), code=1)
    _print_payouts([payout], None)


@payouts_app.command("list")
def payouts_list(
    status: Annotated[str | None, typer.Option(help="paid, awaiting_approval or rejected")] = None,
    export: Annotated[Path | None, typer.Option(help="write them as CSV")] = None,
) -> None:
    """List payouts, optionally by status."""
    with open_books(create=False).connect() as conn:
        _print_payouts(list_payouts(conn, status), export)


register_all(app)


def main() -> None:
    """Console entry point."""
    app(prog_name="fenrun")


if __name__ == "__main__":
    main()
    sys.exit(0)
