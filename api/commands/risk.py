"""`fenrun risk flag --as-of TS`: score every promoter with the anomaly champion and store the
triage list the risk team works from, with the commission each flagged promoter has not been paid.

The unpaid commission (pending + available, net of claw-backs owed) is read from the books *now*:
it is what a hold can still protect, whatever the as-of of the profiles.
"""

from __future__ import annotations

from typing import Annotated

import typer

from api.common import fail, parse_as_of
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

    from features.profiles.store import ANOMALY_FLAGS_TABLE, write_snapshot
    from settlement.db import create_db_engine
    from settlement.money import format_amount
    from settlement.reports import books_currencies, promoter_balances
    from training import anomaly
    from training.data import load_profiles
    from training.registry import champion_uri, configure_tracking, current_champion

    settings = TrainingSettings()
    configure_tracking(settings)
    champion = current_champion(anomaly.NAME)
    if champion is None:
        fail(f"{champion_uri(anomaly.NAME)} does not exist: run `fenrun train anomaly` first")
    profiles = load_profiles(settings, pd.Timestamp(at))
    if profiles.empty:
        fail(f"--as-of: no promoter had joined by {at.isoformat()}")
    flags = anomaly.flag(profiles, champion_uri(anomaly.NAME), alert_share)
    engine = create_db_engine(settings.database_url)
    try:
        with engine.connect() as conn:
            currency = books_currencies(conn)[0]
            balances = promoter_balances(conn, currency)
    finally:
        engine.dispose()
    for column in ("pending_minor", "available_minor", "paid_minor", "clawback_minor"):
        flags[column] = [getattr(balances[p], column) if p in balances else 0
                         for p in flags["promoter_id"]]
    flags["unpaid_minor"] = flags["pending_minor"] + flags["available_minor"]
    flags.insert(0, "as_of", pd.Timestamp(at).tz_convert("UTC"))
    flags.insert(1, "currency", currency)
    flags.insert(2, "model_version", str(champion.version))
    path = write_snapshot(flags, settings.feature_store_dir, ANOMALY_FLAGS_TABLE)
    flagged = flags[flags["flagged"]].sort_values("rank")
    at_stake = int(flagged["unpaid_minor"].clip(lower=0).sum())
    typer.echo(f"{len(flagged):,} of {len(flags):,} promoters flagged by {champion_uri('anomaly')}"
               f" v{champion.version}; unpaid commission at stake "
               f"{format_amount(at_stake, currency)} {currency}")
    for row in flagged.head(SHOWN).itertuples():
        typer.echo(f"  #{row.rank:<4} {row.promoter_id:<12} score {row.score:.3f}  unpaid "
                   f"{format_amount(int(row.unpaid_minor), currency):>10}  {row.reasons}")
    typer.echo(f"snapshot stored: {path}")


def register(app: typer.Typer) -> None:
    app.add_typer(risk_app, name="risk")
