"""`fenrun risk scan` and `fenrun risk evaluate` (issue 14), added to the `fenrun risk` group.

`scan --as-of T`: rules + the anomaly champion (+ the supervised one once trained) over every
promoter, stored as the `risk_scan` snapshot; prints the held promoters with their reasons.
`evaluate`: simulates malls, settles, scans and scores the scan against the simulator's labels
(`training.risk_evaluation`); prints a table, writes `--json`, logs to MLflow with `--mlflow`.
Parse, call one service, present; errors name the option (`api.exits`, `fail`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from api.commands.risk import risk_app
from api.common import fail, parse_as_of
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
) -> None:
    """Scan every promoter (rules + models), store the snapshot, print the held ones."""
    at = parse_as_of(as_of)
    from serving.champions import ChampionRegistry
    from serving.config import ServingSettings
    from serving.risk_scan import scan_books, store_scan
    from settlement.db import create_db_engine
    from settlement.money import format_amount
    from training.config import TrainingSettings

    serving = ServingSettings()
    registry = ChampionRegistry(serving)
    engine = create_db_engine(TrainingSettings().database_url)
    try:
        with exit_codes(), engine.connect() as conn:
            try:
                scan = scan_books(conn, at, registry)
            except ValueError as error:
                fail(f"--as-of: {error}")
            path = store_scan(scan, serving.feature_store_dir)
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


def register(app: typer.Typer) -> None:
    """Add `evaluate` and `scan` to the `fenrun risk` group (registered by `api.commands.risk`)."""
    risk_app.command("evaluate")(evaluate_command)
    risk_app.command("scan")(scan_command)
