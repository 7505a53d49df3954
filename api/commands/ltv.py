"""`fenrun ltv ...`: customer value out of time, the registered LTV model, promoter LTV/CAC.

    fenrun ltv evaluate --cutoff DATE --horizon-days N --out predictions.csv
    fenrun ltv train [--cutoff DATE] [--horizon-days N]
    fenrun ltv promoters --as-of DATE [--horizon-days N] [--out promoters.csv]

Reads the settled books at FENRUN_DATABASE_URL (simulated, live or imported with
`fenrun import-orders`); MLflow settings come from the FENRUN_MLFLOW_* variables.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated, NoReturn

import pandas as pd
import typer

from training.config import TrainingSettings
from training.ltv.config import LtvSettings
from training.ltv.evaluation import evaluate_ltv
from training.ltv.metrics import format_table
from training.ltv.model import KINDS
from training.ltv.promoter_value import customer_value, promoter_value
from training.ltv.split import InsufficientHistory
from training.ltv.train import champion_predictions, load_books, train_ltv
from training.registry import champion_uri, configure_tracking

ltv_app = typer.Typer(help="Customer lifetime value and promoter LTV/CAC.", no_args_is_help=True)
Horizon = Annotated[int | None, typer.Option(
    "--horizon-days", min=1, max=730, help="forecast horizon (default FENRUN_LTV_HORIZON_DAYS)")]


def _fail(message: str, code: int = 2) -> NoReturn:
    typer.echo(f"fenrun: {message}", err=True)
    raise typer.Exit(code)


def _instant(value: str, option: str) -> pd.Timestamp:
    """A date (midnight UTC) or an ISO-8601 instant with an offset."""
    try:
        stamp = pd.Timestamp(value)
    except ValueError:
        _fail(f"{option}: {value!r} is not a date or ISO-8601 instant")
    if stamp.tzinfo is None:
        if stamp != stamp.normalize():
            _fail(f"{option}: {value!r} needs an offset such as Z or +08:00")
        return stamp.tz_localize("UTC")
    return stamp.tz_convert("UTC")


@ltv_app.command("evaluate")
def evaluate_command(
    cutoff: Annotated[str, typer.Option(help="features up to this date/instant (UTC midnight)")],
    out: Annotated[Path, typer.Option(help="CSV of customer_id, predicted, actual")],
    horizon_days: Horizon = None,
    seed: Annotated[int, typer.Option(help="LightGBM seed")] = 42,
    kind: Annotated[str | None, typer.Option(help=f"force one of {', '.join(KINDS)}")] = None,
) -> None:
    """Train on the window before --cutoff, predict the next horizon, print the metrics table."""
    if kind is not None and kind not in KINDS:
        _fail(f"--kind: {kind!r} is not one of {', '.join(KINDS)}")
    ltv = LtvSettings()
    history = load_books(TrainingSettings().database_url, ltv.currency)
    try:
        result = evaluate_ltv(history, _instant(cutoff, "--cutoff"),
                              horizon_days or ltv.horizon_days, seed=seed, kind=kind)
    except InsufficientHistory as error:
        _fail(str(error))
    frame = result.predictions[["customer_id", "predicted", "actual"]].copy()
    frame[["predicted", "actual"]] = frame[["predicted", "actual"]].round(0).astype("int64")
    frame.to_csv(out, index=False)
    held = result.split.evaluation
    typer.echo(f"{len(frame)} customers as of {held.cutoff.isoformat()}, horizon "
               f"{held.horizon_days} days, currency {history.currency} (minor units); model "
               f"{result.model.kind}; predictions written to {out}")
    typer.echo(format_table(result.metrics))


@ltv_app.command("train")
def train_command(
    cutoff: Annotated[str | None, typer.Option(help="default: the latest complete window")] = None,
    horizon_days: Horizon = None,
) -> None:
    """Evaluate out of time, log to MLflow, register fenrun-ltv and apply the champion gate."""
    settings, ltv = TrainingSettings(), LtvSettings()
    history = load_books(settings.database_url, ltv.currency)
    try:
        result = train_ltv(history, settings,
                           _instant(cutoff, "--cutoff") if cutoff else None,
                           horizon_days or ltv.horizon_days)
    except InsufficientHistory as error:
        _fail(str(error))
    typer.echo(result.table)
    d = result.decision
    typer.echo(f"{d.model_name} v{d.version} -> {d.alias}: {d.rule}")


@ltv_app.command("promoters")
def promoters_command(
    as_of: Annotated[str, typer.Option("--as-of", help="value and cost as of this date/instant")],
    out: Annotated[Path | None, typer.Option(help="CSV with one row per promoter")] = None,
    horizon_days: Horizon = None,
    use_champion: Annotated[bool, typer.Option(help="predict with models:/fenrun-ltv@champion "
                                               "(else BG/NBD fitted as of --as-of)")] = True,
) -> None:
    """Promoter and channel LTV/CAC with shrinkage and a bootstrap band."""
    settings, ltv = TrainingSettings(), LtvSettings()
    history = load_books(settings.database_url, ltv.currency)
    predict = None
    if use_champion:
        configure_tracking(settings)
        uri = champion_uri("ltv")
        predict = lambda features: champion_predictions(features, uri)  # noqa: E731
    at = _instant(as_of, "--as-of")
    try:
        customers = customer_value(history, at, horizon_days or ltv.horizon_days, predict=predict)
    except Exception as error:  # noqa: BLE001 - no champion yet: say so, suggest the fallback
        if predict is None:
            raise
        logging.getLogger(__name__).debug("champion unavailable", exc_info=True)
        _fail(f"cannot predict with {champion_uri('ltv')} ({error}); run `fenrun ltv train` "
              "or pass --no-use-champion")
    value = promoter_value(customers)
    if out is not None:
        value.promoters.to_csv(out, index=False)
    typer.echo(value.channels.round(2).to_string(index=False))
    typer.echo(f"{len(value.promoters)} promoters with acquired customers"
               + (f"; written to {out}" if out else ""))


def register(app: typer.Typer) -> None:
    app.add_typer(ltv_app, name="ltv")
