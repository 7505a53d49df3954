"""`fenrun applications submit|list|show|approve|reject`: people applying to become promoters.

Submitting runs the automatic checks (`settlement.applications.submit`); a reviewer approves
(the books get `promoter_joined`, the inviter as parent) or rejects with a reason. Every output
masks the personal fields; decisions record who (`cli:<login>`) and why.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated

import typer

from api.common import cli_actor, open_books, open_cipher
from api.exits import exit_codes
from settlement.applications import STATUSES, Application, ApplicationForm
from settlement.people_config import PeopleSettings

applications_app = typer.Typer(help="Applications to become a promoter.", no_args_is_help=True)


def _show(found: Application) -> None:
    shown = found.masked()
    why = f" ({shown['reason']})" if shown["reason"] else ""
    typer.echo(f"{found.application_id} {found.user_id:<16} {found.status:<9} "
               f"{shown['name']:<8} {shown['phone']:<14} inviter {found.inviter_id or '-'}{why}")


@applications_app.command("submit")
def submit_command(
    user: Annotated[str, typer.Option("--user", help="the mall's user id (the promoter id)")],
    name: Annotated[str, typer.Option("--name", help="real name")],
    phone: Annotated[str, typer.Option("--phone", help="mobile number")],
    id_number: Annotated[str | None, typer.Option("--id-number", help="resident ID")] = None,
    document: Annotated[list[str] | None, typer.Option(
        "--document", help="a document reference; repeat for several")] = None,
    inviter_code: Annotated[str | None, typer.Option("--inviter-code")] = None,
    training_completed: Annotated[bool, typer.Option("--training-completed")] = False,
    device: Annotated[str | None, typer.Option("--device", help="device id (limits)")] = None,
    ip: Annotated[str | None, typer.Option("--ip", help="IP address (limits)")] = None,
) -> None:
    """Submit an application; it waits for a reviewer as `pending`."""
    from settlement.applications import submit

    form = ApplicationForm(user, name, phone, id_number, tuple(document or ()), inviter_code,
                           training_completed, device, ip)
    engine, cipher = open_books(), open_cipher()
    with exit_codes(), engine.begin() as conn:
        found = submit(conn, cipher, PeopleSettings(), form, datetime.now(UTC), cli_actor())
    _show(found)


@applications_app.command("list")
def list_command(
    status: Annotated[str | None, typer.Option(help=", ".join(STATUSES))] = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSON, fields masked")] = False,
) -> None:
    """Applications, oldest first; personal fields masked."""
    from settlement.applications import list_applications

    engine, cipher = open_books(create=False), open_cipher()
    with exit_codes(), engine.connect() as conn:
        found = list_applications(conn, cipher, status)
    if as_json:
        typer.echo(json.dumps([a.masked() for a in found], indent=2, ensure_ascii=False))
        return
    for application in found:
        _show(application)


@applications_app.command("show")
def show_command(application_id: str) -> None:
    """One application, every field (personal ones masked)."""
    from settlement.applications import get_application

    engine, cipher = open_books(create=False), open_cipher()
    with exit_codes(), engine.connect() as conn:
        found = get_application(conn, cipher, application_id)
    typer.echo(json.dumps(found.masked(), indent=2, ensure_ascii=False))


Note = Annotated[str | None, typer.Option("--note", help="why, recorded with the decision")]


@applications_app.command("approve")
def approve_command(application_id: str, note: Note = None) -> None:
    """Approve: the applicant joins the books as a promoter, the inviter as its parent."""
    from settlement.applications import approve

    engine, cipher = open_books(create=False), open_cipher()
    with exit_codes():
        found = approve(engine, cipher, PeopleSettings(), application_id, cli_actor(), note,
                        datetime.now(UTC))
    _show(found)


@applications_app.command("reject")
def reject_command(
    application_id: str,
    reason: Annotated[str, typer.Option("--reason", help="why (shown to the applicant)")],
) -> None:
    """Reject with a reason; the phone may apply again."""
    from settlement.applications import reject

    engine, cipher = open_books(create=False), open_cipher()
    with exit_codes(), engine.begin() as conn:
        found = reject(conn, cipher, application_id, cli_actor(), reason, datetime.now(UTC))
    _show(found)


def register(app: typer.Typer) -> None:
    app.add_typer(applications_app, name="applications")
