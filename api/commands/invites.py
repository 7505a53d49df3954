"""`fenrun invites create|list|revoke|link|visit|register`: promoters' invite codes and links.

`visit` and `register` are what the mall reports when someone opens a link or signs up through
it: each becomes a `touch` event in the books (a registration binds the customer). Refusals
(a revoked code, a customer who registered before, a device over its daily limit) say why.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer

from api.common import cli_actor, open_books, open_cipher
from api.exits import exit_codes
from settlement.people_config import PeopleSettings

invites_app = typer.Typer(help="Promoters' invite codes and links.", no_args_is_help=True)
Channel = Annotated[str | None, typer.Option("--channel", help="where it was shared: wechat...")]
Content = Annotated[str | None, typer.Option("--content", help="the content id shared with it")]
Device = Annotated[str | None, typer.Option("--device", help="device id (limits)")]
Ip = Annotated[str | None, typer.Option("--ip", help="IP address (limits)")]


@invites_app.command("create")
def create_command(promoter: str) -> None:
    """A new code for a joined, active promoter; prints the code and its plain link."""
    from settlement.invite_codes import create_code, invite_link

    settings, engine = PeopleSettings(), open_books(create=False)
    with exit_codes(), engine.begin() as conn:
        code = create_code(conn, settings, promoter, cli_actor(), datetime.now(UTC))
    typer.echo(f"{code.code} {invite_link(settings.invite_base_url, code.code)}")


@invites_app.command("list")
def list_command(promoter: str) -> None:
    """A promoter's codes, newest first, with who revoked them and why."""
    from settlement.invite_codes import codes_of

    with exit_codes(), open_books(create=False).connect() as conn:
        codes = codes_of(conn, promoter)
    for code in codes:
        state = ("active" if code.active else
                 f"revoked {code.revoked_at:%Y-%m-%d} by {code.revoked_by}: {code.revoke_reason}")
        typer.echo(f"{code.code}  created {code.created_at:%Y-%m-%d} by {code.created_by}  "
                   f"{state}")


@invites_app.command("revoke")
def revoke_command(
    code: str,
    reason: Annotated[str | None, typer.Option("--reason", help="why, recorded")] = None,
) -> None:
    """Revoke a code: its links stop working; what they brought so far stays."""
    from settlement.invite_codes import revoke_code

    with exit_codes(), open_books(create=False).begin() as conn:
        found = revoke_code(conn, code, cli_actor(), reason, datetime.now(UTC))
    typer.echo(f"{found.code} revoked at {found.revoked_at:%Y-%m-%d %H:%M} by {found.revoked_by}")


@invites_app.command("link")
def link_command(code: str, channel: Channel = None, content: Content = None) -> None:
    """The link to share for a code, carrying a channel and a content id."""
    from settlement.invite_codes import find_code, invite_link

    settings = PeopleSettings()
    with exit_codes(), open_books(create=False).connect() as conn:
        found = find_code(conn, code)
        typer.echo(invite_link(settings.invite_base_url, found.code, channel, content))


def _use(kind: str, code: str, customer: str, visit_id: str | None, channel: str | None,
         content: str | None, device: str | None, ip: str | None) -> None:
    from settlement.invite_uses import LinkUse, record_use

    engine, cipher = open_books(create=False), open_cipher()
    with exit_codes():
        used = record_use(engine, cipher, PeopleSettings(), LinkUse(
            code, kind, customer, visit_id, channel, content, device, ip), datetime.now(UTC))
    again = " (already recorded)" if used.duplicate else ""
    typer.echo(f"{used.kind} of {used.customer_id} through {used.code} -> touch for "
               f"{used.promoter_id}{again}; bound to {used.bound_to or 'nobody'}")


@invites_app.command("visit")
def visit_command(
    code: str,
    customer: Annotated[str, typer.Option("--customer", help="the visitor's user id")],
    visit_id: Annotated[str, typer.Option("--visit-id", help="the mall's id of the visit")],
    channel: Channel = None, content: Content = None, device: Device = None, ip: Ip = None,
) -> None:
    """Record a visit through a link: a `click` touch for the code's promoter."""
    _use("visit", code, customer, visit_id, channel, content, device, ip)


@invites_app.command("register")
def register_command(
    code: str,
    customer: Annotated[str, typer.Option("--customer", help="the new customer's user id")],
    channel: Channel = None, content: Content = None, device: Device = None, ip: Ip = None,
) -> None:
    """Record a registration through a link: a `register` touch, which binds the customer."""
    _use("register", code, customer, None, channel, content, device, ip)


def register(app: typer.Typer) -> None:
    app.add_typer(invites_app, name="invites")
