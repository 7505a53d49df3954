"""`fenrun demo`: the whole settlement path on embedded defaults, end to end, in one command.

Simulates a mall, settles it into the configured database (SQLite under .fenrun/ by default), walks
one promoter through the lifecycle (`api.demo_lifecycle`: an approved application, a payee,
a withdrawal paid through a bank file), pays out, verifies the books and prints what a finance or
growth person would look at first. Safe to
run twice: every event is idempotent, so a second run changes nothing.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy import Connection, Engine

from api.commands.drift import drift_command
from api.commands.ltv import promoters_command
from api.commands.rates import demo_rates
from api.commands.risk import flag_command
from api.commands.train import train_command
from api.common import fail, open_books, open_cipher
from api.demo_lifecycle import lifecycle_step
from features.simulator import SimulationConfig, simulate
from settlement.config import SettlementSettings
from settlement.db import create_db_engine, upgrade
from settlement.errors import SettlementError
from settlement.ingest import settle_file
from settlement.money import format_amount
from settlement.payouts import AWAITING_APPROVAL, run_payouts
from settlement.plan import parse_plan_text
from settlement.plan_store import load_plan_book, store_versions
from settlement.read_model import last_event_at, promoter_balances
from settlement.reports import verify_ledger
from settlement.risk_cases import MAX_LISTED, list_cases
from training.config import TrainingSettings


def demo_command(
    promoters: Annotated[int, typer.Option(help="Promoters in the simulated mall.")] = 2000,
    days: Annotated[int, typer.Option(help="Days simulated.")] = 90,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 7,
    out: Annotated[Path, typer.Option(help="Where the simulated files go.")] = Path(
        ".fenrun/demo"),
) -> None:
    """Simulate a mall, settle it, pay out, verify the ledger and summarise."""
    settings = SettlementSettings()
    started = time.perf_counter()
    # The demo writes simulated books anyway; books left by an older checkout are migrated
    # first rather than refused (`fenrun db upgrade` is what a real installation runs).
    books = create_db_engine(settings.database_url)
    upgrade(books)
    books.dispose()
    summary = simulate(out, SimulationConfig(promoters=promoters, days=days, seed=seed))
    typer.echo(f"1/8 simulated {summary.total_events:,} events ({promoters:,} promoters, "
               f"{days} days) into {out}")
    engine = open_books(settings)
    _settle(engine, out, settings)
    with engine.connect() as conn:
        last_at = last_event_at(conn)
        plans = load_plan_book(conn)
    if last_at is None:
        typer.echo("the simulated events left no trace in the books", err=True)
        raise typer.Exit(1)
    plans_as_of = last_at + timedelta(days=1)
    typer.echo(f"2/8 settled into {settings.database_url}")
    typer.echo("    promoter lifecycle: an application with an invite code, a payee, a withdrawal:")
    lifecycle_step(engine, open_cipher(settings), plans.versions[-1].currency, out, last_at)
    made = run_payouts(engine, plans, plans_as_of)
    waiting = sum(p.status == AWAITING_APPROVAL for p in made)
    typer.echo(f"3/8 payout run as of {plans_as_of:%Y-%m-%d}: {len(made) - waiting} paid, "
               f"{waiting} awaiting approval")
    with engine.connect() as conn:
        problems = verify_ledger(conn)
        _summarise(conn, plans.versions[-1].currency)
    if problems:
        for problem in problems:
            typer.echo(problem, err=True)
        raise typer.Exit(1)
    typer.echo("4/8 ledger verified to the fen")
    _train(out, days)
    as_of = f"{plans_as_of:%Y-%m-%dT%H:%M:%SZ}"
    typer.echo(f"6/8 drift of the promoter profiles as of {as_of} against the anomaly champion:")
    _run_step(lambda: drift_command(as_of=as_of, model="anomaly", threshold=None))
    _promoter_value(as_of)
    typer.echo(f"8/8 risk triage: promoters the anomaly champion flags as of {as_of}:")
    _run_step(lambda: flag_command(as_of=as_of, alert_share=0.05))
    typer.echo(f"then rate suggestions as of {as_of} (policy champion, guardrails, approvals):")
    _run_step(lambda: demo_rates(plans_as_of, seed))
    _risk_cases(engine, plans.versions[-1].currency)
    typer.echo(f"demo done in {time.perf_counter() - started:.0f}s; MLflow store: "
               f"{TrainingSettings().mlflow_tracking_uri}")
    typer.echo("see model health, promoter value and risk triage: `make dashboard` (Streamlit),"
               " or `.venv/bin/fenrun serve` and GET /v1/models with a key from"
               " `.venv/bin/fenrun keys create --role growth --name you`")


MAX_REJECTS_SHOWN = 20


def _settle(engine: Engine, out: Path, settings: SettlementSettings) -> None:
    """Store the simulated plan and settle the events: the use case `fenrun settle` calls."""
    try:
        with engine.begin() as conn:
            store_versions(conn, parse_plan_text((out / "plan.yaml").read_text(encoding="utf-8")))
        settled = settle_file(engine, out / "events.jsonl", settings.batch_size,
                              screen=settings.order_screen_for)
    except SettlementError as error:
        fail(str(error))
    for number, reason in settled.rejects[:MAX_REJECTS_SHOWN]:
        typer.echo(f"{out / 'events.jsonl'}:{number}: {reason}", err=True)
    tally = settled.tally
    typer.echo(f"    applied {tally.applied}, already applied {tally.duplicate}, rejected "
               f"{len(settled.rejects)}, holds released {tally.released}")


def _train(out: Path, days: int) -> None:
    """Segments, anomaly detector (scored against the simulator's fraud labels) and LTV."""
    # A short demo period cannot hold a 90-day horizon twice (train + evaluate windows).
    os.environ.setdefault("FENRUN_LTV_HORIZON_DAYS", str(max(7, min(90, days // 3))))
    typer.echo("5/8 training segments, anomaly detector and LTV (MLflow, champion gate):")
    _run_step(lambda: train_command(name="all", as_of=None, labels=str(out / "labels.csv")))


def _promoter_value(as_of: str) -> None:
    """Store the promoter LTV/CAC snapshot the dashboard's Promoter value page shows (with the
    LTV champion if there is one, else BG/NBD: the command says which)."""
    typer.echo(f"7/8 promoter LTV/CAC as of {as_of}:")
    _run_step(lambda: promoters_command(as_of=as_of, use_champion=None, segments=True))


def _run_step(step: Callable[[], None]) -> None:
    """Run a command as a demo step: its own failure is reported, the demo goes on."""
    try:
        step()
    except typer.Exit as exit_:
        if exit_.exit_code not in (0, None):
            typer.echo(f"    (step ended with status {exit_.exit_code}; see the message above)")


def _risk_cases(engine: Engine, currency: str) -> None:
    """The cases the order-time screen opened while settling: the Risk triage page's queue."""
    with engine.connect() as conn:
        cases = list_cases(conn, limit=MAX_LISTED)
    at_risk = sum(case.money_at_risk_minor for case in cases)
    typer.echo(f"    risk cases open: {len(cases)}, {format_amount(at_risk, currency)} "
               f"{currency} of commission at risk (held pending); work them on the Risk "
               "triage page or with `fenrun risk cases`")


def _summarise(conn: Connection, currency: str) -> None:
    balances = promoter_balances(conn, currency)
    earned = {pid: b.pending_minor + b.available_minor + b.paid_minor
              for pid, b in balances.items()}
    top = sorted(earned.items(), key=lambda item: -item[1])[:5]
    total = sum(earned.values())
    typer.echo(f"    promoters earning: {len(earned):,}; commission "
               f"{format_amount(total, currency)} {currency}")
    for pid, amount in top:
        b = balances[pid]
        typer.echo(f"    {pid:<10} earned {format_amount(amount, currency):>12}  pending "
                   f"{format_amount(b.pending_minor, currency):>10}  paid "
                   f"{format_amount(b.paid_minor, currency):>10}")


def register(app: typer.Typer) -> None:
    app.command("demo")(demo_command)
