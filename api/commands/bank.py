"""`fenrun bank send|results|list|file`: approved withdrawals and paid payouts go out in a bank
batch file; the bank's result file marks each line paid or failed (`settlement.bank_batches`,
the embedded channel `settlement.payment_channels.BankFileChannel`, files in
`FENRUN_BANK_FILE_DIR`)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from api.commands.payees import open_cipher
from api.common import cli_actor, fail, open_books, stored_plans
from api.exits import exit_codes
from settlement.bank_batches import apply_results, list_batches, resend_batch, send_batch
from settlement.config import FinanceSettings, SettlementSettings
from settlement.errors import SettlementError
from settlement.money import format_amount
from settlement.payment_channels import BankFileChannel

bank_app = typer.Typer(help="Bank batch files and their results.", no_args_is_help=True)
OutDir = Annotated[Path | None, typer.Option("--out", help="directory (FENRUN_BANK_FILE_DIR)")]


def _channel(out: Path | None) -> BankFileChannel:
    return BankFileChannel(out or FinanceSettings().bank_file_dir)


@bank_app.command("send")
def bank_send(out: OutDir = None) -> None:
    """Write every approved withdrawal and paid payout not yet sent into a new batch file."""
    settings = SettlementSettings()
    engine = open_books(settings, create=False)
    now = datetime.now(UTC)
    currency = stored_plans(engine).version_at(now).currency
    cipher = open_cipher(settings)
    with exit_codes():
        made, where = send_batch(engine, cipher, _channel(out), currency, cli_actor(), now)
    for reason in made.skipped:
        typer.echo(f"left for the next batch: {reason}", err=True)
    if made.batch is None:
        typer.echo("nothing to send")
        return
    b = made.batch
    typer.echo(f"batch {b.batch_id}: {b.line_count} line(s), "
               f"{format_amount(b.total_minor, b.currency)} {b.currency}, written to {where}")


@bank_app.command("results")
def bank_results(
    path: Annotated[Path, typer.Argument(help="the bank's result CSV: batch_id,line_id,status,"
                                              "reason")],
) -> None:
    """Mark a batch's lines paid or failed from the bank's result file (all or nothing)."""
    engine = open_books(create=False)
    channel = _channel(None)
    try:
        tally = apply_results(engine, channel.read_results(str(path)), datetime.now(UTC))
    except SettlementError as error:
        fail(f"{path}: {error}", code=1)
    typer.echo(f"batch {tally.batch_id}: {tally.paid} paid, {tally.failed} failed, "
               f"{tally.unchanged} already recorded")


@bank_app.command("list")
def bank_list() -> None:
    """The newest bank batches."""
    with open_books(create=False).connect() as conn:
        batches = list_batches(conn)
    for b in batches:
        results = f"results {b.results_at:%Y-%m-%d %H:%M}" if b.results_at else "no results yet"
        typer.echo(f"{b.batch_id:<16} {b.line_count:>6} line(s) "
                   f"{format_amount(b.total_minor, b.currency):>16} {b.currency} "
                   f"{b.created_at:%Y-%m-%d %H:%M} by {b.created_by}; {results}")


@bank_app.command("file")
def bank_file(batch_id: str, out: OutDir = None) -> None:
    """Write an existing batch's file again (the same lines and ids)."""
    settings = SettlementSettings()
    engine = open_books(settings, create=False)
    with exit_codes():
        where = resend_batch(engine, open_cipher(settings), _channel(out), batch_id)
    typer.echo(f"batch {batch_id} written to {where}")


def register(app: typer.Typer) -> None:
    app.add_typer(bank_app, name="bank")
