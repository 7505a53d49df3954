"""`fenrun train [NAME|all]`: train, log, register and gate the models in `training.trainers`."""

from __future__ import annotations

from typing import Annotated

import typer

from training.config import TrainingSettings
from training.trainers import TRAINERS, CannotTrain, get_trainer


def train_command(
    name: Annotated[str, typer.Argument(help=f"one of: {', '.join(TRAINERS)}, or all")] = "all",
    as_of: Annotated[str | None, typer.Option("--as-of", help="train on data as of (ISO-8601)")
                     ] = None,
    labels: Annotated[str | None, typer.Option(help="fraud labels CSV for the anomaly metric")
                      ] = None,
) -> None:
    """Train a model (or all of them); a new version is champion only if it beats the current."""
    updates = {k: v for k, v in {"train_as_of": as_of, "fraud_labels_path": labels}.items() if v}
    settings = TrainingSettings().model_copy(update=updates)
    names = list(TRAINERS) if name == "all" else [name]
    if any(n not in TRAINERS for n in names):
        typer.echo(f"fenrun: unknown model {name!r}; known: {', '.join(TRAINERS)}, all", err=True)
        raise typer.Exit(2)
    from training.registry import configure_tracking  # heavy: MLflow

    configure_tracking(settings)
    skipped = []
    for model in names:
        try:
            outcome = get_trainer(model)(settings)
        except CannotTrain as error:
            typer.echo(f"fenrun: {model}: not trained: {error}", err=True)
            skipped.append(model)
            continue
        decision = outcome.decision
        typer.echo(f"{decision.model_name} v{decision.version} -> {decision.alias}: "
                   f"{decision.rule}")
        for metric, value in outcome.metrics.items():
            typer.echo(f"  {metric:<32}{value:>12.4f}")
    if skipped:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command("train")(train_command)
