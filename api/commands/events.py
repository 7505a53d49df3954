"""`fenrun events rejected` and `fenrun events retry`: what the books refused, and a second try.

A live mall delivers some events before what they name (a touch before its promoter's join).
Such an event is rejected with its reason; `retry` offers its stored payload again through the
same use case as `fenrun settle` (`settlement.ingest`): applied once if it is valid now, else
still rejected with the new reason. Every earlier reason stays in the books.
Exit codes as for `fenrun settle`: 0 all applied (or nothing to do), 1 some event is still
rejected or unknown, 2 an argument error.
"""

from __future__ import annotations

from typing import Annotated

import typer

from api.common import fail, open_books
from settlement.config import SettlementSettings
from settlement.engine import APPLIED, DUPLICATE
from settlement.errors import SettlementError
from settlement.ingest import retry_rejected
from settlement.rejections import MAX_LISTED, check_limit, list_rejected

events_app = typer.Typer(help="Rejected events: list them, retry them.", no_args_is_help=True)
SHOWN = {APPLIED: "applied", DUPLICATE: "already applied"}


def _limit(limit: int) -> int:
    try:
        return check_limit(limit)
    except ValueError as error:
        fail(str(error))


@events_app.command("rejected")
def rejected_command(
    type_: Annotated[str | None, typer.Option("--type", help="only this event type")] = None,
    limit: Annotated[int, typer.Option(help=f"at most this many (1..{MAX_LISTED})")] = 100,
) -> None:
    """List rejected events, oldest first, with their attempts and newest reason."""
    _limit(limit)
    with open_books(create=False).connect() as conn:
        try:
            records = list_rejected(conn, type_, limit)
        except ValueError as error:
            fail(str(error))
    if not records:
        typer.echo("no rejected events")
        return
    typer.echo(f"{'event_id':<24} {'type':<20} {'ts':<20} {'attempts':>8}  reason")
    for r in records:
        typer.echo(f"{r.event_id:<24} {r.type:<20} {r.ts:%Y-%m-%dT%H:%M:%SZ} {r.attempts:>8}  "
                   f"{r.reason}")


@events_app.command("retry")
def retry_command(
    event_ids: Annotated[list[str] | None, typer.Argument(help="ids of stored events")] = None,
    all_: Annotated[bool, typer.Option("--all", help="every rejected event (oldest first)")]
    = False,
    limit: Annotated[int, typer.Option(help=f"with --all: at most this many (1..{MAX_LISTED})")]
    = MAX_LISTED,
) -> None:
    """Apply stored events again: applied once if valid now, else rejected with the new reason."""
    if bool(event_ids) == all_:
        fail("name EVENT_ID ... or pass --all (not both)")
    if event_ids and len(event_ids) > MAX_LISTED:
        fail(f"EVENT_ID: {len(event_ids)} ids, at most {MAX_LISTED} per run")
    settings = SettlementSettings()
    try:
        retried = retry_rejected(open_books(settings, create=False), settings.batch_size,
                                 event_ids or None, _limit(limit),
                                 screen=settings.order_screen_for)
    except SettlementError as error:
        fail(str(error))
    for outcome in retried.outcomes:
        shown = SHOWN.get(outcome.status) or f"{outcome.status}: {outcome.reason}"
        typer.echo(f"{outcome.event_id}: {shown}")
    for event_id in retried.unknown:
        typer.echo(f"{event_id}: no such event in the books", err=True)
    for event_id, reason in retried.invalid:
        typer.echo(f"{event_id}: stored payload no longer valid: {reason}", err=True)
    tally = retried.tally
    typer.echo(f"applied {tally.applied}, already applied {tally.duplicate}, rejected "
               f"{tally.refused}, holds released {tally.released}")
    if tally.refused or retried.unknown or retried.invalid:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.add_typer(events_app, name="events")
