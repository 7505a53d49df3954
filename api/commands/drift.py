"""`fenrun drift --as-of TS`: exit 1 when a critical feature drifted from the champion's data."""

from __future__ import annotations

from typing import Annotated

import typer

from training.config import TrainingSettings


def drift_command(
    as_of: Annotated[str, typer.Option("--as-of", help="current profiles as of (ISO-8601)")],
    model: Annotated[str, typer.Option(help="whose champion reference to compare with")
                     ] = "anomaly",
    threshold: Annotated[float | None, typer.Option(help="per-feature alert threshold")] = None,
) -> None:
    """Compare profiles as of --as-of with the champion's training reference; log the report."""
    from training.data import load_profiles, resolve_as_of  # heavy: pandas, MLflow, Evidently
    from training.drift import CRITICAL_FEATURES, check_drift
    from training.registry import configure_tracking

    settings = TrainingSettings().model_copy(update={"train_as_of": as_of})
    configure_tracking(settings)
    current = load_profiles(settings, resolve_as_of(settings))
    try:
        result = check_drift(current, model, threshold or settings.drift_threshold)
    except LookupError as error:
        typer.echo(f"fenrun: {error}", err=True)
        raise typer.Exit(2) from error
    typer.echo(f"{result.model_name} champion v{result.champion_version}, "
               f"threshold {result.threshold}, report in run {result.run_id}")
    for column in CRITICAL_FEATURES:
        if column in result.scores:
            flag = "DRIFT" if column in result.alerts else "ok"
            typer.echo(f"  {column:<32}{result.scores[column]:>10.4f}  {flag}")
    if result.drifted:
        typer.echo(f"drift detected in: {', '.join(result.alerts)}", err=True)
        raise typer.Exit(1)
    typer.echo("no drift in the critical features")


def register(app: typer.Typer) -> None:
    app.command("drift")(drift_command)
