"""What every `fenrun` command shares: opening the books, reading the plan, failing clearly.

Cheap to import on purpose: `fenrun --help` loads every command module, so nothing here (or at the
top of a command module) may pull in pandas, MLflow or Evidently; commands import those inside
their function bodies.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import typer
from sqlalchemy import Engine

from settlement import db
from settlement.config import SettlementSettings
from settlement.errors import InvalidEvent, SettlementError
from settlement.events import parse_timestamp
from settlement.plan import PlanBook, parse_plan_text
from settlement.plan_store import load_plan_book, store_versions

if TYPE_CHECKING:
    from settlement.personal_data import DataCipher


def fail(message: str, code: int = 2) -> NoReturn:
    """Print `fenrun: message` on stderr and exit (2: bad arguments or plan; 1: rejected input)."""
    typer.echo(f"fenrun: {message}", err=True)
    raise typer.Exit(code)


def open_books(settings: SettlementSettings | None = None, *, create: bool = True) -> Engine:
    """The engine for the configured database.

    Commands that bring money in (`create=True`) create the schema on an empty database. Every
    other command passes `create=False`: a missing or empty database is an error naming the URL,
    never an empty set of books that would print zero balances and "ledger verified".
    """
    settings = settings or SettlementSettings()
    try:
        if not create:
            return db.open_existing(settings.database_url)
        engine = db.create_db_engine(settings.database_url)
        db.ensure_schema(engine)
    except SettlementError as error:
        fail(str(error))
    return engine


def apply_plan_file(engine: Engine, path: Path) -> list[str]:
    """Store the versions of a plan file (`plan apply`, `settle --plan`); exit 2 on any error."""
    try:
        versions = parse_plan_text(path.read_text(encoding="utf-8"))
        with engine.begin() as conn:
            return store_versions(conn, versions)
    except OSError as error:
        fail(f"--plan: cannot read {path}: {error.strerror}")
    except SettlementError as error:
        fail(f"{path}: {error}")


def stored_plans(engine: Engine) -> PlanBook:
    with engine.connect() as conn:
        plans = load_plan_book(conn)
    if not plans:
        fail("no plan version is stored: run `fenrun plan apply PLAN.yaml` or pass --plan")
    return plans


# Clocks drift and commands are typed by hand: an instant this far ahead of ours still counts as
# now. Beyond it, moving money "as of" a future instant would release every hold early.
AS_OF_TOLERANCE = timedelta(minutes=5)
ALLOW_FUTURE_HELP = "accept an --as-of in the future (replaying a simulated mall on purpose)"


def parse_as_of(value: str, field: str = "--as-of") -> datetime:
    try:
        return parse_timestamp(value, field)
    except InvalidEvent as error:
        fail(str(error))


def money_as_of(value: str, allow_future: bool, field: str = "--as-of") -> datetime:
    """The instant a command moves money at: parsed, and refused when it lies beyond now plus
    `AS_OF_TOLERANCE` unless the caller passed `--allow-future`."""
    at = parse_as_of(value, field)
    problem = future_as_of(at, allow_future, field, "--allow-future")
    if problem:
        fail(problem)
    return at


def future_as_of(at: datetime, allow_future: bool, field: str, override: str) -> str | None:
    """Why moving money as of `at` is refused (later than now plus `AS_OF_TOLERANCE` without
    `override`), or None; the CLI and the HTTP API share this rule."""
    now = datetime.now(UTC)
    if allow_future or at <= now + AS_OF_TOLERANCE:
        return None
    return (f"{field}: {at.isoformat()} is in the future (now {now:%Y-%m-%dT%H:%M:%SZ}, "
            f"tolerance {AS_OF_TOLERANCE.total_seconds() / 60:.0f} min); money moves as of "
            f"now or the past; pass {override} to replay a simulated mall")


def cli_actor() -> str:
    """Who a decision taken at this terminal is recorded as (`cli:<login>`): the audit trail of
    payout approvals and key creation names the person, as the API names the key."""
    import getpass

    return f"cli:{getpass.getuser()}"


def open_cipher(settings: SettlementSettings | None = None) -> DataCipher:
    """The personal-data cipher of a command: keys from FENRUN_DATA_KEYS; on embedded (SQLite)
    books without it, the generated key file (`settlement.personal_data.load_cipher`)."""
    from settlement.personal_data import DataKeySettings, is_embedded, load_cipher

    settings = settings or SettlementSettings()
    try:
        return load_cipher(DataKeySettings(), embedded=is_embedded(settings.database_url))
    except SettlementError as error:
        fail(str(error))
