"""`fenrun ltv ...`: customer value out of time, the registered LTV model, promoter LTV/CAC.

    fenrun ltv evaluate --cutoff DATE --horizon-days N --out predictions.csv [--calendar FILE]
                        (predicted and actual in the currency's units, decimal strings)
    fenrun ltv train [--cutoff DATE] [--horizon-days N] [--calendar FILE]
    fenrun ltv promoters --as-of DATE [--horizon-days N] [--out promoters.csv] [--no-segments]
                         (also stores the snapshot the dashboard and GET /promoters/{id}/value read;
                         forecasts with the LTV champion, or BG/NBD with a note when none exists)

Reads the settled books at FENRUN_DATABASE_URL (simulated, live or imported with
`fenrun import-orders`); MLflow settings come from the FENRUN_MLFLOW_* variables. pandas,
LightGBM and MLflow are imported inside the commands, so `fenrun --help` stays fast.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from api.common import fail, parse_as_of
from api.exits import exit_codes
from training.config import TrainingSettings
from training.ltv.config import LtvSettings, MarginSettings
from training.ltv.margin import MarginError

if TYPE_CHECKING:
    from collections.abc import Callable

    import numpy as np
    import pandas as pd

    from serving.champions import ChampionRegistry
    from training.ltv.calendar import PromotionCalendar

KINDS = ("tweedie", "hurdle", "bgnbd")  # training.ltv.model.KINDS, without importing LightGBM
# The per-channel table `fenrun ltv promoters` prints: column -> heading.
SHOWN = {"channel": "channel", "customers": "customers", "gmv_ltv_minor": "gmv_ltv",
         "contribution_ltv_minor": "contribution_ltv", "cac_minor": "cac",
         "gmv_ltv_cac": "gmv_ltv_cac", "ltv_cac": "ltv_cac", "ltv_cac_shrunk": "ltv_cac_shrunk",
         "ltv_cac_low": "ltv_cac_low", "ltv_cac_high": "ltv_cac_high"}

ltv_app = typer.Typer(help="Customer lifetime value and promoter LTV/CAC.", no_args_is_help=True)
Horizon = Annotated[int | None, typer.Option(
    "--horizon-days", min=1, max=730, help="forecast horizon (default FENRUN_LTV_HORIZON_DAYS)")]
Calendar = Annotated[Path | None, typer.Option(
    "--calendar", help="the mall's promotion calendar, YAML (default FENRUN_LTV_CALENDAR; none: "
    "a stationary level)")]


def _calendar(path: Path | None, ltv: LtvSettings) -> PromotionCalendar:
    """The promotion calendar named by --calendar or FENRUN_LTV_CALENDAR, or none."""
    from training.ltv.calendar import CalendarError, load_calendar

    try:
        return load_calendar(path or ltv.calendar)
    except CalendarError as error:
        fail(f"--calendar: {error}")


def _instant(value: str, option: str) -> datetime:
    """A date (midnight UTC) or an ISO-8601 instant with an offset."""
    try:
        day = date.fromisoformat(value.strip())
    except ValueError:
        return parse_as_of(value, option)
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


@ltv_app.command("evaluate")
def evaluate_command(
    cutoff: Annotated[str, typer.Option(help="features up to this date/instant (UTC midnight)")],
    out: Annotated[Path, typer.Option(help="CSV of customer_id, predicted, actual")],
    horizon_days: Horizon = None,
    seed: Annotated[int, typer.Option(help="LightGBM seed")] = 42,
    kind: Annotated[str | None, typer.Option(help=f"force one of {', '.join(KINDS)}")] = None,
    calendar: Calendar = None,
) -> None:
    """Train on the window before --cutoff, predict the next horizon, print the metrics table."""
    if kind is not None and kind not in KINDS:
        fail(f"--kind: {kind!r} is not one of {', '.join(KINDS)}")
    at = _instant(cutoff, "--cutoff")
    from settlement.money import format_amount
    from training.ltv.evaluation import evaluate_ltv  # heavy: pandas, LightGBM
    from training.ltv.metrics import format_table
    from training.ltv.split import InsufficientHistory
    from training.ltv.train import load_books

    ltv = LtvSettings()
    promotions = _calendar(calendar, ltv)
    history = load_books(TrainingSettings().database_url, ltv.currency)
    try:
        result = evaluate_ltv(history, at, horizon_days or ltv.horizon_days, seed=seed, kind=kind,
                              calendar=promotions)
    except InsufficientHistory as error:
        fail(str(error))
    frame = result.predictions[["customer_id", "predicted", "actual"]].copy()
    for column in ("predicted", "actual"):  # whole minor units, written as the currency's decimals
        frame[column] = [format_amount(int(v), history.currency)
                         for v in frame[column].round(0)]
    frame.to_csv(out, index=False)
    held = result.split.evaluation
    typer.echo(f"{len(frame)} customers as of {held.cutoff.isoformat()}, horizon "
               f"{held.horizon_days} days, currency {history.currency}; model "
               f"{result.model.kind}; predictions written to {out}")
    typer.echo(f"method: {result.method}")
    if result.fallback:
        typer.echo(f"BG/NBD alone: {result.fallback}")
    typer.echo(format_table(result.metrics))


@ltv_app.command("train")
def train_command(
    cutoff: Annotated[str | None, typer.Option(help="default: the latest complete window")] = None,
    horizon_days: Horizon = None,
    calendar: Calendar = None,
) -> None:
    """Evaluate out of time, log to MLflow, register fenrun-ltv and apply the champion gate."""
    at = _instant(cutoff, "--cutoff") if cutoff else None
    from training.ltv.split import InsufficientHistory  # heavy: pandas, LightGBM, MLflow
    from training.ltv.train import load_books, train_ltv

    settings, ltv = TrainingSettings(), LtvSettings()
    promotions = _calendar(calendar, ltv)
    history = load_books(settings.database_url, ltv.currency)
    try:
        result = train_ltv(history, settings, at, horizon_days or ltv.horizon_days,
                           calendar=promotions)
    except InsufficientHistory as error:
        fail(str(error))
    typer.echo(f"method: {result.evaluation.method}")
    for run in (result.booster, result):
        if run is None:
            continue
        if run.evaluation.fallback:
            typer.echo(f"BG/NBD alone: {run.evaluation.fallback}")
        typer.echo(run.table)
        d = run.decision
        typer.echo(f"{d.model_name} v{d.version} -> {d.alias}: {d.rule}")


@ltv_app.command("promoters")
def promoters_command(
    as_of: Annotated[str, typer.Option("--as-of", help="value and cost as of this date/instant")],
    out: Annotated[Path | None, typer.Option(help="CSV with one row per promoter")] = None,
    horizon_days: Horizon = None,
    use_champion: Annotated[bool | None, typer.Option(
        help="predict with models:/fenrun-ltv@champion (--no-use-champion: BG/NBD fitted as of "
             "--as-of; default: the champion if there is one, else BG/NBD with a note)")] = None,
    segments: Annotated[bool, typer.Option(help="tag each promoter with the segments champion's "
                                           "segment (skipped, with a note, if there is none)")
                        ] = True,
) -> None:
    """Promoter and channel LTV/CAC with shrinkage and a bootstrap band, on the margin basis
    (contribution: FENRUN_MARGIN_DEFAULT_RATE and FENRUN_MARGIN_CATEGORIES) with GMV beside.

    Also stores both tables as a snapshot of --as-of in FENRUN_FEATURE_STORE_DIR (what the
    growth dashboard shows); a rerun for the same instant replaces it.
    """
    at = _instant(as_of, "--as-of")
    from features.profiles.store import CHANNEL_VALUE_TABLE, PROMOTER_VALUE_TABLE, write_snapshot
    from serving.champions import ChampionRegistry
    from serving.config import ServingSettings
    from settlement.money import format_amount
    from training.ltv.promoter_value import (
        MONEY_COLUMNS,
        customer_value,
        promoter_value,
        snapshot_frames,
    )
    from training.ltv.train import load_books

    settings, ltv = TrainingSettings(), LtvSettings()
    try:
        margins = MarginSettings().rates()
    except MarginError as error:
        fail(str(error))
    except ValueError as error:  # pydantic-settings: e.g. FENRUN_MARGIN_CATEGORIES is not JSON
        fail(f"FENRUN_MARGIN_*: {error}")
    horizon = horizon_days or ltv.horizon_days
    history = load_books(settings.database_url, ltv.currency)
    if history.as_of(at).orders.empty:
        fail(f"--as-of: no order was paid by {at.isoformat()}; pick a later instant")
    registry = ChampionRegistry(ServingSettings())
    try:
        with exit_codes():
            predict = _ltv_predictor(registry, use_champion)
            customers = customer_value(history, at, horizon, predict=predict,
                                       margins=margins)
            assigned = _segments_as_of(registry, settings, at) if segments else None
    finally:
        registry.close()
    value = promoter_value(customers)
    promoters, channels = snapshot_frames(value, at, horizon, history.currency, assigned)
    stored = [write_snapshot(promoters, settings.feature_store_dir, PROMOTER_VALUE_TABLE),
              write_snapshot(channels, settings.feature_store_dir, CHANNEL_VALUE_TABLE)]
    if out is not None:
        promoters.to_csv(out, index=False)
    shown = channels[list(SHOWN)].round(2)
    for column in MONEY_COLUMNS:  # whole minor units, printed in the currency's own digits
        if column in shown:
            shown[column] = [format_amount(int(v), history.currency) for v in shown[column]]
    typer.echo(f"per acquisition channel, {history.currency}, horizon {horizon} days; LTV/CAC "
               f"on the margin basis (contribution: gross margin {margins.describe()} minus "
               "later commission), GMV beside:")
    typer.echo(shown.rename(columns=SHOWN).to_string(index=False))
    typer.echo(f"{len(value.promoters)} promoters with acquired customers"
               + (f"; written to {out}" if out else ""))
    typer.echo("snapshot stored: " + ", ".join(str(path) for path in stored))


def _ltv_predictor(registry: ChampionRegistry, use_champion: bool | None
                   ) -> Callable[[pd.DataFrame], np.ndarray] | None:
    """The LTV champion's forecast, or None for BG/NBD: by choice (False), or by default (None)
    when there is no champion, said on stdout with the command that trains one."""
    from serving.errors import NoChampion
    from serving.ltv import LTV_MODEL, forecast

    if use_champion is False:
        return None
    try:
        champion = registry.get(LTV_MODEL)
    except NoChampion as error:
        if use_champion:  # asked for explicitly: a missing champion is an error (exit 2)
            raise
        typer.echo(f"predicted with BG/NBD fitted as of --as-of: {error}")
        return None
    typer.echo(f"predicted with models:/{champion.name}@champion v{champion.version}")
    return lambda features: forecast(champion.model, features)


def _segments_as_of(registry: ChampionRegistry, settings: TrainingSettings, at: datetime
                    ) -> pd.DataFrame | None:
    """The segments champion's assignment of the profiles as of `at` (built and stored if
    missing), or None with a note when there is no champion yet."""
    import pandas as pd

    from serving.errors import NoChampion
    from serving.segments import SEGMENTS_MODEL, assign
    from training.data import load_profiles

    try:
        champion = registry.get(SEGMENTS_MODEL)
    except NoChampion as error:
        typer.echo(f"no segment column: {error}")
        return None
    return assign(champion.model, load_profiles(settings, pd.Timestamp(at)))


def register(app: typer.Typer) -> None:
    app.add_typer(ltv_app, name="ltv")
