"""`fenrun withdrawals request|list|approve|reject`: promoters ask for part of their available
balance; requests above the review limit, or the first to a new payee, wait for a reviewer, who
must say why (`settlement.withdrawals`; rules from `FENRUN_WITHDRAWAL_*`)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer

from api.common import cli_actor, fail, money_as_of, open_books, stored_plans
from api.exits import exit_codes
from settlement.config import FinanceSettings
from settlement.errors import SettlementError
from settlement.money import format_amount, parse_amount
from settlement.withdrawals import (
    Withdrawal,
    WithdrawalRules,
    WithdrawalStatus,
    decide_withdrawal,
    list_withdrawals,
    request_withdrawal,
)

withdrawals_app = typer.Typer(help="Withdrawals promoters ask for.", no_args_is_help=True)
STATUSES = ", ".join(s.value for s in WithdrawalStatus)
Reason = Annotated[str, typer.Option("--note", help="why (required: recorded with who decided)")]


def print_withdrawals(withdrawals: list[Withdrawal]) -> None:
    for w in withdrawals:
        why = f" ({w.hold_reason})" if w.hold_reason and w.status == "requested" else ""
        who = f" by {w.decided_by}" if w.decided_by else ""
        typer.echo(f"{w.withdrawal_id:>8} {w.promoter_id:<20} "
                   f"{format_amount(w.amount_minor, w.currency):>14} {w.currency} fee "
                   f"{format_amount(w.fee_minor, w.currency)} {w.status}{why}{who}"
                   f"{' batch ' + w.batch_id if w.batch_id else ''}")


@withdrawals_app.command("request")
def withdrawals_request(
    promoter_id: Annotated[str, typer.Argument(help="who withdraws")],
    amount: Annotated[str, typer.Argument(help="decimal amount, e.g. 1200.00")],
    key: Annotated[str, typer.Option("--key", help="request key: a retry with it changes "
                                                   "nothing")],
    payee_id: Annotated[int | None, typer.Option("--payee", help="default: the active one")
                        ] = None,
    as_of: Annotated[str | None, typer.Option("--as-of", help="when it was asked (default now)")
                     ] = None,
    allow_future: Annotated[bool, typer.Option("--allow-future")] = False,
) -> None:
    """Reserve part of a promoter's available balance for a withdrawal."""
    at = money_as_of(as_of, allow_future) if as_of else datetime.now(UTC)
    engine = open_books(create=False)
    currency = stored_plans(engine).version_at(at).currency
    with exit_codes():
        rules = WithdrawalRules.of(FinanceSettings(), currency)
        amount_minor = parse_amount(amount, currency, "AMOUNT")
        made = request_withdrawal(engine, rules, promoter_id, amount_minor, key, cli_actor(),
                                  at, payee_id)
    print_withdrawals([made])


@withdrawals_app.command("list")
def withdrawals_list(
    status: Annotated[str | None, typer.Option(help=STATUSES)] = None,
    promoter_id: Annotated[str | None, typer.Option("--promoter")] = None,
) -> None:
    """Withdrawals by id, optionally of one status or promoter."""
    if status is not None and status not in WithdrawalStatus.__members__.values():
        fail(f"--status: {status!r} must be one of {STATUSES}")
    with open_books(create=False).connect() as conn:
        print_withdrawals(list_withdrawals(conn, status, promoter_id))


def _decide(withdrawal_id: int, approve: bool, note: str) -> None:
    engine = open_books(create=False)
    try:
        made = decide_withdrawal(engine, withdrawal_id, approve, cli_actor(), note,
                                 datetime.now(UTC))
    except SettlementError as error:
        fail(str(error), code=1)
    print_withdrawals([made])


@withdrawals_app.command("approve")
def withdrawals_approve(withdrawal_id: int, note: Reason) -> None:
    """Approve a withdrawal waiting for a reviewer: it goes out in the next bank batch."""
    _decide(withdrawal_id, True, note)


@withdrawals_app.command("reject")
def withdrawals_reject(withdrawal_id: int, note: Reason) -> None:
    """Reject a withdrawal waiting for a reviewer: the money is available again."""
    _decide(withdrawal_id, False, note)


def register(app: typer.Typer) -> None:
    app.add_typer(withdrawals_app, name="withdrawals")
