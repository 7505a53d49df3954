"""`fenrun simulate`: generate a realistic mall (events, plan, fraud labels)."""

from __future__ import annotations

import typer

from features.simulator.command import simulate_command


def register(app: typer.Typer) -> None:
    app.command("simulate")(simulate_command)
