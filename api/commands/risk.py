"""`fenrun risk flag --as-of TS`: score every promoter with the anomaly champion and store the
triage list the risk team works from, with the commission each flagged promoter has not been paid.

Parse, call `serving.risk.build_flags` (which holds the "unpaid commission" rule and reads the
balances the books hold *now*), store, print; errors go through `api.exits`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from api.common import cli_actor, fail, open_books, parse_as_of, stored_plans
from api.exits import exit_codes
from training.config import TrainingSettings

if TYPE_CHECKING:
    from settlement.risk_actions import Decision
    from settlement.risk_domain import Case

risk_app = typer.Typer(help="Risk triage: anomaly flags, and the cases the risk team works.",
                       no_args_is_help=True)
SHOWN = 10  # flagged promoters printed; the snapshot holds all of them


@risk_app.command("flag")
def flag_command(
    as_of: Annotated[str, typer.Option("--as-of", help="profiles as of (ISO-8601 with offset)")],
    alert_share: Annotated[float, typer.Option(
        min=0.0001, max=1.0, help="share of promoters to flag: the team's review budget")] = 0.05,
) -> None:
    """Flag the most anomalous promoters and store the triage snapshot."""
    at = parse_as_of(as_of)
    import pandas as pd  # heavy: pandas, MLflow, scikit-learn

    from serving.anomaly import ANOMALY_MODEL
    from serving.champions import ChampionRegistry
    from serving.config import ServingSettings
    from serving.risk import build_flags, store_flags
    from settlement.db import create_db_engine
    from settlement.money import format_amount
    from training.data import load_profiles

    settings, serving = TrainingSettings(), ServingSettings()
    registry = ChampionRegistry(serving)
    engine = create_db_engine(settings.database_url)
    try:
        with exit_codes():
            champion = registry.get(ANOMALY_MODEL)  # before the profiles: a missing one is cheap
            profiles = load_profiles(settings, pd.Timestamp(at))
            if profiles.empty:
                fail(f"--as-of: no promoter had joined by {at.isoformat()}")
            with engine.connect() as conn:
                triage = build_flags(champion, profiles, conn, alert_share)
            path = store_flags(triage, serving.feature_store_dir)
    finally:
        registry.close()
        engine.dispose()
    flagged, currency = triage.flagged, triage.currency
    typer.echo(f"{len(flagged):,} of {len(triage.scored):,} promoters flagged by "
               f"models:/{champion.name}@champion v{champion.version}; unpaid commission at "
               f"stake {format_amount(triage.unpaid_at_stake_minor, currency)} {currency}")
    for row in flagged.head(SHOWN).itertuples():
        typer.echo(f"  #{row.rank:<4} {row.promoter_id:<12} score {row.score:.3f}  unpaid "
                   f"{format_amount(int(row.unpaid_minor), currency):>10}  {row.reasons}")
    typer.echo(f"snapshot stored: {path}")


def register(app: typer.Typer) -> None:
    app.add_typer(risk_app, name="risk")


# Cases: the risk team's work queue --------------------------------------------------------------

By = Annotated[str | None, typer.Option("--by", help="who decides (default: cli:<login>)")]
CaseNote = Annotated[str | None, typer.Option("--note", help="why, recorded on the case's trail")]
CaseId = Annotated[int, typer.Argument(min=1, help="the case id (`fenrun risk cases`)")]


def _case_line(case: Case) -> str:
    from settlement.money import format_amount

    money = format_amount(case.money_at_risk_minor, case.currency)
    return (f"  #{case.case_id:<5} {case.promoter_id:<14} {case.status:<13} {money:>12} "
            f"{case.currency}  {case.order_count:>4} orders  {', '.join(case.rules)}")


@risk_app.command("cases")
def cases_command(
    status: Annotated[list[str] | None, typer.Option(
        help="open, investigating, confirmed or dismissed (repeat; default: open and "
             "investigating)")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="cases shown")] = 50,
) -> None:
    """The work queue: cases by money at risk, largest first."""
    from settlement.risk_cases import list_cases
    from settlement.risk_domain import CaseStatus

    statuses = []
    for value in status or []:
        try:
            statuses.append(CaseStatus(value))
        except ValueError:
            fail(f"--status: {value!r} is not one of {', '.join(s.value for s in CaseStatus)}")
    engine = open_books(create=False)
    try:
        with exit_codes(), engine.connect() as conn:
            found = list_cases(conn, statuses or None, limit)
    finally:
        engine.dispose()
    if not found:
        typer.echo("no cases: flags become cases when a scan records them")
        return
    typer.echo(f"{len(found)} case(s), by money at risk:")
    for case in found:
        typer.echo(_case_line(case))


@risk_app.command("case")
def case_command(case_id: CaseId) -> None:
    """One case: its flags and evidence, its orders with the commission at risk, its trail."""
    import json

    from serving.risk_cases import case_detail
    from settlement.money import format_amount

    engine = open_books(create=False)
    try:
        with exit_codes(), engine.connect() as conn:
            detail = case_detail(conn, case_id)
    finally:
        engine.dispose()
    case, currency = detail.case, detail.case.currency
    typer.echo(f"case #{case.case_id}: promoter {case.promoter_id}, {case.status}, "
               f"{format_amount(case.money_at_risk_minor, currency)} {currency} "
               f"{'recovered' if case.status == 'confirmed' else 'at risk'}")
    typer.echo("flags:")
    for flag in detail.flags:
        typer.echo(f"  {flag.rule} ({flag.severity}, {flag.source}) "
                   f"{json.dumps(flag.evidence, sort_keys=True)[:300]}")
    typer.echo("orders:")
    for item in detail.orders:
        o = item.order
        marks = [m for m, on in (("held", item.held), ("released", o.released_at is not None),
                                 (f"refunded {format_amount(o.refunded_minor, currency)}",
                                  o.refunded_minor > 0)) if on]
        typer.echo(f"  {o.order_id:<14} paid {o.paid_at:%Y-%m-%d %H:%M}  customer "
                   f"{o.customer_id:<12} commission "
                   f"{format_amount(item.commission_minor, currency):>10}  {' '.join(marks)}")
    typer.echo("trail:")
    for event in detail.events:
        typer.echo(f"  {event.at:%Y-%m-%d %H:%M:%S} {event.actor:<16} {event.action:<13} "
                   f"{event.note or ''}")


def _decided(decision: Decision) -> None:
    from settlement.money import format_amount

    case = decision.case
    if not decision.changed:
        typer.echo(f"case #{case.case_id} is already {case.status}: nothing changed")
        return
    typer.echo(f"case #{case.case_id} is now {case.status}")
    if decision.entries:
        typer.echo(f"  reversed {format_amount(decision.reversed_minor, case.currency)} "
                   f"{case.currency} in {len(decision.entries)} ledger entries:")
        for promoter_id, amount in decision.per_promoter_minor.items():
            typer.echo(f"    {promoter_id:<14} {format_amount(amount, case.currency):>12}")
    if decision.held_orders:
        verb = "frozen" if case.status == "confirmed" else "lifted from hold"
        typer.echo(f"  {len(decision.held_orders)} order(s) {verb}")
    if decision.released_orders:
        typer.echo(f"  {len(decision.released_orders)} order(s) past their hold period released")
    if decision.suspended:
        typer.echo(f"  promoter {case.promoter_id} suspended")


@risk_app.command("investigate")
def investigate_command(case_id: CaseId, by: By = None, note: CaseNote = None) -> None:
    """Take a case: open -> investigating."""
    from settlement.risk_actions import investigate_case

    engine = open_books(create=False)
    try:
        with exit_codes():
            _decided(investigate_case(engine, case_id, by or cli_actor(), note))
    finally:
        engine.dispose()


@risk_app.command("confirm")
def confirm_command(
    case_id: CaseId, by: By = None, note: CaseNote = None,
    suspend: Annotated[bool, typer.Option(help="suspend the promoter")] = True,
) -> None:
    """Confirm fraud: freeze, reverse every level's commission on the case's orders (claw back
    what was released or paid), suspend the promoter. Confirming twice books nothing new."""
    from settlement.risk_actions import confirm_case

    engine = open_books(create=False)
    try:
        with exit_codes():
            plans = stored_plans(engine)
            _decided(confirm_case(engine, plans, case_id, by or cli_actor(), note, suspend))
    finally:
        engine.dispose()


@risk_app.command("dismiss")
def dismiss_command(case_id: CaseId, note: Annotated[str, typer.Option(
        "--note", help="why it is not fraud (required)")], by: By = None) -> None:
    """Not fraud: lift the case's holds (orders past their hold period are released now),
    record why."""
    from settlement.risk_actions import dismiss_case

    engine = open_books(create=False)
    try:
        with exit_codes():
            _decided(dismiss_case(engine, case_id, by or cli_actor(), note))
    finally:
        engine.dispose()


@risk_app.command("note")
def note_command(case_id: CaseId, note: Annotated[str, typer.Option(
        "--note", help="what you found (recorded on the case's trail)")], by: By = None) -> None:
    """Add a note to a case's trail, whatever its status."""
    from settlement.risk_actions import add_note

    engine = open_books(create=False)
    try:
        with exit_codes():
            case = add_note(engine, case_id, by or cli_actor(), note)
    finally:
        engine.dispose()
    typer.echo(f"note added to case #{case.case_id} ({case.status})")
