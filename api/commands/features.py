"""`fenrun features build --as-of TS`: materialise point-in-time promoter profiles as Parquet."""

from __future__ import annotations

from typing import Annotated

import typer

from settlement.db import open_existing
from settlement.errors import InvalidEvent, SettlementError
from settlement.events import parse_timestamp

features_app = typer.Typer(help="Point-in-time feature snapshots.", no_args_is_help=True)


@features_app.command("build")
def build(
    as_of: Annotated[str, typer.Option("--as-of", help="ISO-8601 instant with an offset")],
    out: Annotated[str | None, typer.Option(help="snapshot root (default FENRUN_FEATURE_STORE_DIR)")
                   ] = None,
) -> None:
    """Build every promoter's profile from what the books knew at --as-of and store it."""
    from features.profiles import build_profiles  # heavy: pandas
    from features.profiles.config import FeatureSettings
    from features.profiles.store import write_snapshot

    settings = FeatureSettings()
    try:
        at = parse_timestamp(as_of, "--as-of")
    except InvalidEvent as error:
        typer.echo(f"fenrun: {error}", err=True)
        raise typer.Exit(2) from error
    try:
        engine = open_existing(settings.database_url)
    except SettlementError as error:
        typer.echo(f"fenrun: {error}", err=True)
        raise typer.Exit(2) from error
    profiles = build_profiles(engine, at, local_tz=settings.local_tz)
    path = write_snapshot(profiles, out or settings.feature_store_dir)
    typer.echo(f"{len(profiles)} promoter profiles as of {at.isoformat()} -> {path}")


def register(app: typer.Typer) -> None:
    app.add_typer(features_app, name="features")
