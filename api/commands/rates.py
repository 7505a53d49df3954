"""`fenrun rates`: suggest level-1 rates with the policy champion, list them, approve or reject.

`suggest` stores one suggestion per active promoter (serving.rate_suggest); `approve` turns
pending live suggestions into promoter overrides of a new plan version effective from a stated
instant (never inside the notice period), `reject` records who said no and why. Mode, kill
switch, exploration, auto-approval, notice period and control share are configuration
(`FENRUN_RATES_*`, serving.rate_config). Errors go through api.exits (a message naming the field,
exit code 2 when nothing was done).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

import typer
from sqlalchemy import Engine

from api.common import cli_actor, fail, open_books, parse_as_of
from api.exits import exit_codes

rates_app = typer.Typer(help="Recommended commission rates: suggest, review, approve.",
                        no_args_is_help=True)

Ids = Annotated[list[str], typer.Argument(help="suggestion ids (rs_...)")]
By = Annotated[str, typer.Option("--by", help="who decides (recorded)")]


def _settings():  # noqa: ANN202 - the import is deferred: `fenrun --help` stays light
    from serving.rate_config import RateSettings

    try:
        return RateSettings()
    except ValueError as error:
        fail(f"FENRUN_RATES_*: {error}")


@rates_app.command("suggest")
def suggest_command(
    as_of: Annotated[str, typer.Option("--as-of", help="instant the books are read as of")],
    seed: Annotated[int | None, typer.Option(help="seed of the exploration draw")] = None,
) -> None:
    """Score every active promoter with the policy champion, run the guardrails, store one
    suggestion each (shadow or live, as configured)."""
    from serving.champions import ChampionRegistry
    from serving.config import ServingSettings
    from serving.rate_suggest import suggest_rates

    at = parse_as_of(as_of)
    settings, serving = _settings(), ServingSettings()
    engine = open_books(create=False)
    registry = ChampionRegistry(serving)
    try:
        with exit_codes():
            outcome = suggest_rates(engine, registry, settings, serving, as_of=at,
                                    now=datetime.now(UTC), by=cli_actor(), seed=seed)
    except ValueError as error:  # a champion or a mall the suggestion cannot use, named
        fail(str(error))
    finally:
        registry.close()
        engine.dispose()
    typer.echo(f"run {outcome.run_id} ({settings.mode} mode)")
    typer.echo(outcome.summary)
    for status, count in sorted(outcome.by_status.items()):
        typer.echo(f"  {status:<14}{count}")
    if outcome.auto_approved_version:
        typer.echo(f"auto-approved into plan version {outcome.auto_approved_version}")


@rates_app.command("list")
def list_command(
    status: Annotated[str | None, typer.Option(help="pending, approved, rejected, blocked, "
                                               "auto_approved, superseded, no_change, control")
                      ] = None,
    promoter: Annotated[str | None, typer.Option(help="one promoter's suggestions")] = None,
    limit: Annotated[int, typer.Option(help="at most this many, newest first")] = 100,
) -> None:
    """Stored suggestions, newest first: id, promoter, current -> proposed, status, margin."""
    from settlement import read_model
    from settlement.rate_suggestions import MAX_LISTED, SuggestionStatus

    if status is not None and status not in {s.value for s in SuggestionStatus}:
        fail(f"--status: {status!r} is not one of "
             f"{', '.join(s.value for s in SuggestionStatus)}")
    if not 1 <= limit <= MAX_LISTED:
        fail(f"--limit: {limit} is outside 1..{MAX_LISTED}")
    engine = open_books(create=False)
    try:
        with engine.connect() as conn:
            rows = read_model.list_suggestions(conn, status=status, promoter_id=promoter,
                                               limit=limit)
    finally:
        engine.dispose()
    typer.echo(f"{'suggestion':<36}{'promoter':<14}{'current':>8}  {'proposed':<9}"
               f"{'status':<14}{'mode':<7}{'margin/cycle':>13}")
    for r in rows:
        margin = r.predicted["margin"].delta if "margin" in r.predicted else "-"
        typer.echo(f"{r.suggestion_id:<36}{r.promoter_id:<14}{r.current_rate:>8}  "
                   f"{r.proposed_rate:<9}{r.status:<14}{r.mode:<7}{margin:>13}")
    typer.echo(f"{len(rows)} suggestion(s)")


@rates_app.command("show")
def show_command(suggestion_id: Annotated[str, typer.Argument(help="suggestion id")]) -> None:
    """One suggestion with its guardrail trail, prediction, explanation and decision."""
    from settlement import read_model

    engine = open_books(create=False)
    try:
        with engine.connect() as conn, exit_codes():
            r = read_model.get_suggestion(conn, suggestion_id)
    finally:
        engine.dispose()
    typer.echo(f"{r.suggestion_id}: promoter {r.promoter_id}, {r.current_rate} -> "
               f"{r.proposed_rate} (policy {r.policy_rate}), cadence {r.cadence}")
    typer.echo(f"status {r.status}, mode {r.mode}, arm {r.arm or '-'}, reason {r.reason}, "
               f"propensity {r.propensity:.4f}, as of {r.as_of.isoformat()}")
    typer.echo(f"models: {', '.join(f'{k} v{v}' for k, v in r.model_versions.items()) or '-'}"
               f"; inputs {r.input_fingerprint[:16]}")
    for step in r.guardrails:
        typer.echo(f"  {step.name:<14}{step.outcome:<15}{step.rate_after:<8}{step.detail}")
    for name, p in sorted(r.predicted.items()):
        typer.echo(f"  predicted {name}: {p.delta} ({p.low} to {p.high}) per cycle")
    typer.echo(r.explanation)
    if r.decided_by is not None:
        typer.echo(f"decided {r.status} by {r.decided_by} at {r.decided_at} ({r.note or ''})"
                   + (f"; effective {r.effective_from.isoformat()} in plan version "
                      f"{r.plan_version_id}" if r.effective_from else ""))


@rates_app.command("approve")
def approve_command(
    suggestion_ids: Ids,
    by: By,
    effective_from: Annotated[str | None, typer.Option(
        "--effective-from", help="when the new rates take effect (default: after the notice "
                                 "period)")] = None,
    note: Annotated[str | None, typer.Option(help="why")] = None,
) -> None:
    """Approve pending live suggestions: one new plan version with the promoters' overrides."""
    from serving.rate_decisions import approve_suggestions

    at = parse_as_of(effective_from, "--effective-from") if effective_from else None
    engine = open_books(create=False)
    try:
        with exit_codes():
            version, rows = approve_suggestions(engine, _settings(), suggestion_ids, by=by,
                                                note=note, effective_from=at)
    finally:
        engine.dispose()
    for r in rows:
        typer.echo(f"approved {r.suggestion_id}: promoter {r.promoter_id} {r.current_rate} -> "
                   f"{r.proposed_rate}")
    effective = rows[0].effective_from if rows else None
    if effective is not None:
        typer.echo(f"plan version {version} effective from {effective.isoformat()}")


@rates_app.command("reject")
def reject_command(
    suggestion_ids: Ids,
    by: By,
    note: Annotated[str, typer.Option(help="why (required)")],
) -> None:
    """Reject pending suggestions with the reason; nothing reaches a plan."""
    from serving.rate_decisions import reject_suggestions

    engine = open_books(create=False)
    try:
        with exit_codes():
            rows = reject_suggestions(engine, suggestion_ids, by=by, note=note)
    finally:
        engine.dispose()
    for r in rows:
        typer.echo(f"rejected {r.suggestion_id}: promoter {r.promoter_id}")


@rates_app.command("assignments")
def assignments_command(
    promoter: Annotated[str | None, typer.Option(help="one promoter's log")] = None,
    limit: Annotated[int, typer.Option(help="at most this many rows")] = 100,
) -> None:
    """The served-rate log: rate, from when, probability it was chosen, reason."""
    from settlement import read_model

    engine = open_books(create=False)
    try:
        with engine.connect() as conn, exit_codes():
            rows = read_model.rate_assignments(conn, promoter_id=promoter, limit=limit)
    finally:
        engine.dispose()
    typer.echo(f"{'promoter':<14}{'rate':<8}{'effective_from':<27}{'propensity':>11}  "
               f"{'reason':<12}{'arm':<9}plan version")
    for a in rows:
        typer.echo(f"{a.promoter_id:<14}{a.rate:<8}{a.effective_from.isoformat():<27}"
                   f"{a.propensity:>11.4f}  {a.reason:<12}{a.arm or '-':<9}"
                   f"{a.plan_version_id or '-'}")


def demo_rates(as_of: datetime, seed: int, approve_top: int = 5) -> None:
    """The demo's last step: register a rate policy learned on a small simulated log, suggest
    in live mode with a 10 % control group, approve the few pending changes with the largest
    predicted margin gain (effective after the notice period)."""
    from features.simulator.response_config import ResponseConfig
    from serving.champions import ChampionRegistry
    from serving.config import ServingSettings
    from serving.rate_suggest import suggest_rates
    from training.config import TrainingSettings
    from training.policy.config import PolicyConfig
    from training.policy.register import learn_from_simulation, register_policy

    config = PolicyConfig(trees=40, bags=4, min_explored_rows_per_arm=50)
    try:
        model, frame, decision = learn_from_simulation(ResponseConfig(), 1500, seed, 6, 0.2,
                                                       config)
    except ValueError as error:
        fail(str(error))
    done = register_policy(TrainingSettings(), model, frame, decision, config)
    typer.echo(f"    {done.policy.model_name}: "
               + (f"v{done.policy.version} -> {done.policy.alias}" if done.policy.registered
                  else "unchanged (same data and parameters)"))
    settings = _settings().model_copy(update={"mode": "live", "control_share": 0.1,
                                              "experiment_seed": seed})
    serving, now = ServingSettings(), datetime.now(UTC)
    engine, registry = open_books(create=False), ChampionRegistry(serving)
    try:
        with exit_codes():
            outcome = suggest_rates(engine, registry, settings, serving, as_of=as_of, now=now,
                                    by="fenrun demo", seed=seed)
            typer.echo(f"    {outcome.summary}")
            _demo_approve(engine, outcome.run_id, now, settings.notice_days, approve_top)
    finally:
        registry.close()
        engine.dispose()


def _demo_approve(engine: Engine, run_id: str, now: datetime, notice_days: float,
                  count: int) -> None:
    """Approve the run's `count` pending changes with the largest predicted margin gain."""
    from settlement import read_model
    from settlement.rate_overrides import approve

    with engine.connect() as conn:
        pending = [r for r in read_model.list_suggestions(conn, status="pending", run_id=run_id,
                                                          limit=10_000)
                   if "margin" in r.predicted]
    pending.sort(key=lambda r: -float(r.predicted["margin"].delta))
    chosen = [r.suggestion_id for r in pending[:count]]
    if not chosen:
        typer.echo("    nothing pending to approve")
        return
    notice = timedelta(days=notice_days)
    with engine.begin() as conn:
        version, rows = approve(conn, chosen, effective_from=now + notice,
                                decided_by="fenrun demo", decided_at=now, notice=notice,
                                note="demo: largest predicted margin gain")
    typer.echo(f"    approved {len(rows)} into plan version {version}; see `fenrun rates list`"
               " and `fenrun plan show`")


def register(app: typer.Typer) -> None:
    app.add_typer(rates_app, name="rates")
