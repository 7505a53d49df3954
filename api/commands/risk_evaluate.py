"""`fenrun risk scan|train|evaluate` (issue 14), added to the `fenrun risk` group.

`scan --as-of T`: rules + the anomaly champion (+ the supervised one once trained) over every
promoter, stored as the `risk_scan` snapshot; the held promoters' flags open cases (the queue
`fenrun risk cases` lists); prints the held promoters with their reasons.
`train`: the supervised model from the confirmed and dismissed cases, once `--min-labels` exist.
`evaluate`: simulates malls, settles, scans and scores the scan against the simulator's labels
(`training.risk_evaluation`); prints a table, writes `--json`, logs to MLflow with `--mlflow`.
Parse, call one service, present; errors name the option (`api.exits`, `fail`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from api.commands.risk import risk_app
from api.common import fail, open_books, parse_as_of
from api.exits import exit_codes

SHOWN = 10  # held promoters printed by `scan`; the snapshot holds every promoter
_RATE = "share of promoters with this fraud type (simulator default when omitted)"
FraudRate = Annotated[float | None, typer.Option(min=0.0, max=0.2, help=_RATE)]
# A request field named in a ValueError -> the option that sets it.
OPTION_OF = {"fraud_stealth": "--stealth", "seeds": "--seeds", "promoters": "--promoters",
             "days": "--days", "fpr": "--fpr", "fraud": "--self-referral ... --click-spam"}


def option_message(error: ValueError) -> str:
    """The error's message with its leading field (`promoters: ...`, `fraud.device_farm: ...`)
    named as the option a person typed (`--promoters: ...`, `--device-farm: ...`)."""
    text = str(error)
    field, sep, rest = text.partition(":")
    if not sep or " " in field:
        return text
    name = field.removeprefix("fraud.")
    option = OPTION_OF.get(field) or f"--{name.replace('_', '-')}"
    return f"{option}:{rest}"


def evaluate_command(
    promoters: Annotated[int, typer.Option(help="promoters per simulated mall")] = 2000,
    seeds: Annotated[int, typer.Option(help="number of seeds (malls)")] = 3,
    seed_base: Annotated[int, typer.Option("--seed-base", help="first seed")] = 201,
    days: Annotated[int, typer.Option(help="simulated days per mall")] = 120,
    self_referral: FraudRate = None,
    device_farm: FraudRate = None,
    refund_abuse: FraudRate = None,
    velocity_burst: FraudRate = None,
    referral_ring: FraudRate = None,
    click_spam: FraudRate = None,
    stealth: Annotated[float, typer.Option(
        help="share of fraudsters who hide (0: the simulator's plain fraud)")] = 0.0,
    json_path: Annotated[Path | None, typer.Option("--json", help="write the result here")
                         ] = None,
    mlflow_log: Annotated[bool, typer.Option("--mlflow/--no-mlflow",
                                             help="log the result as an MLflow run")] = False,
) -> None:
    """Simulate, settle, scan and score the risk scan against the simulator's labels."""
    from dataclasses import replace

    from features.simulator.config import FraudRates
    from training.risk_evaluation import RiskEvaluationRequest, evaluate
    from training.risk_report import format_table, to_json

    if not 1 <= seeds <= 100:
        fail(f"--seeds: {seeds} is outside 1..100")
    if seed_base < 0:
        fail(f"--seed-base: {seed_base} must be 0 or more (a seed is a non-negative integer)")
    given = {"self_referral": self_referral, "device_farm": device_farm,
             "refund_abuse": refund_abuse, "velocity_burst": velocity_burst,
             "referral_ring": referral_ring, "click_spam": click_spam}
    try:
        rates = replace(FraudRates(), **{k: v for k, v in given.items() if v is not None})
        request = RiskEvaluationRequest(
            promoters=promoters, seeds=tuple(range(seed_base, seed_base + seeds)), days=days,
            fraud=rates, stealth=stealth)
    except ValueError as error:
        fail(option_message(error))
    if json_path is not None and not json_path.parent.is_dir():
        fail(f"--json: the folder {json_path.parent} does not exist")
    result = evaluate(request)
    typer.echo(format_table(result))
    typer.echo(f"time {result['seconds']:.0f}s")
    if json_path is not None:
        json_path.write_text(to_json(result), encoding="utf-8")
        typer.echo(f"written: {json_path}")
    if mlflow_log:
        from training.config import TrainingSettings
        from training.risk_report import log_evaluation

        with exit_codes():
            typer.echo(f"mlflow run {log_evaluation(TrainingSettings(), request, result)}")


def scan_command(
    as_of: Annotated[str, typer.Option("--as-of", help="scan as of (ISO-8601 with offset)")],
    open_cases: Annotated[bool, typer.Option(
        "--open-cases/--no-open-cases",
        help="hand the held promoters' flags to the case queue (`fenrun risk cases`)")] = True,
) -> None:
    """Scan every promoter (rules + models), store the snapshot, open cases, print the held."""
    at = parse_as_of(as_of)
    from serving.champions import ChampionRegistry
    from serving.config import ServingSettings
    from serving.risk_scan import open_scan_cases, scan_books, store_scan
    from settlement.money import format_amount

    serving = ServingSettings()
    registry = ChampionRegistry(serving)
    engine = open_books(create=False)
    try:
        with exit_codes():
            with engine.connect() as conn:
                try:
                    scan = scan_books(conn, at, registry)
                except ValueError as error:
                    fail(f"--as-of: {error}")
            path = store_scan(scan, serving.feature_store_dir)
            cases = open_scan_cases(engine, scan) if open_cases else []
    finally:
        registry.close()
        engine.dispose()
    held, currency = scan.held, scan.currency
    models = f"anomaly v{scan.anomaly_version}" + (
        f", risk-supervised v{scan.supervised_version}" if scan.supervised_version else
        " (no supervised model yet)")
    typer.echo(f"{len(held):,} of {len(scan.scored):,} promoters held by a rule ({models}); "
               f"unpaid commission held {format_amount(scan.held_minor, currency)} {currency}")
    for row in held.head(SHOWN).itertuples():
        typer.echo(f"  #{row.rank:<4} {row.promoter_id:<12} score {row.score:.3f}  held "
                   f"{format_amount(int(row.held_minor), currency):>10}  {row.rules}")
    typer.echo(f"snapshot stored: {path}")
    if open_cases:
        typer.echo(f"{len(cases):,} case(s) opened or joined: `fenrun risk cases`")


def train_command(
    min_labels: Annotated[int, typer.Option(
        "--min-labels", min=1, help="decided cases needed before a model is trained")] = 40,
) -> None:
    """Train the supervised risk model on the confirmed and dismissed cases (LightGBM)."""
    from training.config import TrainingSettings
    from training.registry import configure_tracking
    from training.risk_supervised import SupervisedConfig, train_from_cases

    settings = TrainingSettings()
    with exit_codes():
        configure_tracking(settings)
        outcome = train_from_cases(settings, SupervisedConfig(min_labels=min_labels))
    decision = outcome.decision
    typer.echo(f"{decision.model_name} v{decision.version} -> {decision.alias}: {decision.rule}")
    for metric, value in outcome.metrics.items():
        typer.echo(f"  {metric:<24}{value:>12.4f}")


def register(app: typer.Typer) -> None:
    """Add `evaluate`, `scan` and `train` to the `fenrun risk` group (`api.commands.risk`)."""
    risk_app.command("evaluate")(evaluate_command)
    risk_app.command("scan")(scan_command)
    risk_app.command("train")(train_command)
