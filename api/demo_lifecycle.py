"""The promoter lifecycle step of `fenrun demo`: one application approved with an inviter's code,
one payee, and one withdrawal through a bank file the bank marks paid, so the Finance page (and
`fenrun withdrawals list`, `fenrun bank list`) shows real data after `make demo`.

Every part calls the same use case as its command (`fenrun applications`, `invites`, `payees`,
`withdrawals`, `bank`), decided by `DEMO_ACTOR` with a reason. Safe to run twice: the applicant
is looked up before applying, and the money part is skipped once the books hold a withdrawal.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import typer
from sqlalchemy import Engine

from settlement.config import FinanceSettings
from settlement.money import format_amount
from settlement.people_books import promoter_status
from settlement.personal_data import DataCipher
from settlement.read_model import promoter_balances

DEMO_ACTOR = "fenrun demo"
APPLICANT = "demo-applicant"  # a user id no simulated promoter has
APPLICANT_NAME, APPLICANT_PHONE = "王小明", "13900000001"
PAYEE_NAME, PAYEE_CARD, PAYEE_BANK = "张三丰", "6222021234567890123", "ICBC"
REQUEST_KEY = "demo-withdrawal-1"
SHARE_WITHDRAWN = 4  # the promoter withdraws a quarter of its available balance


def _richest(engine: Engine, currency: str) -> tuple[str, int] | None:
    """The active (not suspended) promoter with the most available money, and that amount."""
    with engine.connect() as conn:
        balances = promoter_balances(conn, currency)
        ranked = sorted(balances.items(), key=lambda item: (-item[1].available_minor, item[0]))
        for promoter, balance in ranked:
            status = promoter_status(conn, promoter)
            if status is not None and not status.suspended:
                return promoter, balance.available_minor
    return None


def _application(engine: Engine, cipher: DataCipher, inviter: str, at: datetime) -> None:
    """The applicant applies with the inviter's code and is approved (its `promoter_joined`
    goes through the one ingestion path, the inviter as its parent)."""
    from settlement.applications import ApplicationForm, approve, list_applications, submit
    from settlement.invite_codes import codes_of, create_code
    from settlement.people_config import PeopleSettings

    settings = PeopleSettings()
    with engine.begin() as conn:
        if list_applications(conn, cipher, user_id=APPLICANT, limit=1):
            typer.echo(f"    application of {APPLICANT}: already made on these books")
            return
        codes = [c for c in codes_of(conn, inviter) if c.revoked_at is None]
        code = codes[0] if codes else create_code(conn, settings, inviter, DEMO_ACTOR, at)
        applied = submit(conn, cipher, settings, ApplicationForm(
            APPLICANT, APPLICANT_NAME, APPLICANT_PHONE, inviter_code=code.code), at, DEMO_ACTOR)
    done = approve(engine, cipher, settings, applied.application_id, DEMO_ACTOR,
                   "demo: phone checked", at)
    typer.echo(f"    application {done.application_id} of {APPLICANT} with {inviter}'s code "
               f"{code.code}: {done.status} by {DEMO_ACTOR}")


def _withdrawal(engine: Engine, cipher: DataCipher, currency: str, promoter: str,
                available_minor: int, out: Path, at: datetime) -> None:
    """A bank card payee, a withdrawal (a new payee: a reviewer approves it), a bank batch file
    and the bank's result marking its line paid."""
    from settlement.bank_batches import apply_results, send_batch
    from settlement.payees import add_payee
    from settlement.payment_channels import BankFileChannel
    from settlement.withdrawals import (
        WithdrawalRules,
        WithdrawalStatus,
        decide_withdrawal,
        list_withdrawals,
        request_withdrawal,
    )

    with engine.connect() as conn:
        if list_withdrawals(conn, limit=1):
            typer.echo("    withdrawals: these books already hold some; none added")
            return
    finance = FinanceSettings()
    rules = WithdrawalRules.of(finance, currency)
    unit = 100  # whole yuan: the amount reads as a person would ask for it
    amount = min(available_minor // SHARE_WITHDRAWN, rules.review_limit_minor) // unit * unit
    if amount < rules.minimum_minor:
        typer.echo(f"    withdrawals: {promoter} has too little available; none made")
        return
    with engine.begin() as conn:
        payee = add_payee(conn, cipher, promoter, "bank_card", PAYEE_NAME, PAYEE_CARD,
                          PAYEE_BANK, DEMO_ACTOR, at)
    asked = request_withdrawal(engine, rules, promoter, amount, REQUEST_KEY, promoter, at)
    if asked.status == WithdrawalStatus.REQUESTED:
        decide_withdrawal(engine, asked.withdrawal_id, True, DEMO_ACTOR,
                          f"demo: first withdrawal to payee {payee.payee_id}, holder checked", at)
    channel = BankFileChannel(finance.bank_file_dir)
    made, where = send_batch(engine, cipher, channel, currency, DEMO_ACTOR, at)
    if made.batch is None:
        typer.echo("    bank: nothing to send")
        return
    result = out / f"{made.batch.batch_id}-result.csv"
    result.write_text("batch_id,line_id,status,reason\n" + "".join(
        f"{made.batch.batch_id},{n},paid,\n" for n in range(1, made.batch.line_count + 1)),
        encoding="utf-8")
    tally = apply_results(engine, channel.read_results(str(result)), at)
    typer.echo(f"    withdrawal {asked.withdrawal_id}: {promoter} asked for "
               f"{format_amount(amount, currency)} {currency} to {payee.account_masked}, approved "
               f"by {DEMO_ACTOR}, sent in bank batch {made.batch.batch_id} ({where}), "
               f"{tally.paid} line(s) marked paid by {result}")


def lifecycle_step(engine: Engine, cipher: DataCipher, currency: str, out: Path,
                   at: datetime) -> None:
    """The promoter with the most available money invites an applicant and withdraws part."""
    richest = _richest(engine, currency)
    if richest is None:
        typer.echo("    lifecycle: no promoter in the books; skipped")
        return
    promoter, available = richest
    _application(engine, cipher, promoter, at)
    _withdrawal(engine, cipher, currency, promoter, available, out, at)
