"""`fenrun risk flag --as-of TS`: score every promoter with the anomaly champion and store the
triage list the risk team works from, with the commission each flagged promoter has not been paid.

Parse, call `serving.risk.build_flags` (which holds the "unpaid commission" rule and reads the
balances the books hold *now*), store, print; errors go through `api.exits`.
"""

from __future__ import annotations

from typing import Annotated

import typer

from api.common import fail, parse_as_of
from api.exits import exit_codes
from training.config import TrainingSettings

risk_app = typer.Typer(help="Risk triage: anomaly flags with the money at stake.",
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
