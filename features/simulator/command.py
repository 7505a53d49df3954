"""`fenrun simulate`: the typer command around `simulate` (registered in `api/cli.py`).

Kept here so the CLI layer only wires it in; it reads nothing from the environment.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

from features.simulator.config import FraudRates, SimulationConfig
from features.simulator.service import simulate

_DEFAULT = FraudRates()
_SHARE = "Share of promoters labelled with this fraud type."


def simulate_command(
    promoters: Annotated[int, typer.Option(help="Number of promoters to grow.")] = 1000,
    days: Annotated[int, typer.Option(help="Length of the simulated period in days.")] = 90,
    seed: Annotated[int, typer.Option(help="Random seed; same seed, same bytes.")] = 7,
    out: Annotated[Path, typer.Option(help="Directory to write into.")] = Path(".fenrun/sim"),
    start: Annotated[str, typer.Option(help="First instant, ISO-8601 with offset.")] = (
        "2026-01-01T00:00:00Z"),
    self_referral: Annotated[float, typer.Option(help=_SHARE)] = _DEFAULT.self_referral,
    device_farm: Annotated[float, typer.Option(help=_SHARE)] = _DEFAULT.device_farm,
    refund_abuse: Annotated[float, typer.Option(help=_SHARE)] = _DEFAULT.refund_abuse,
    velocity_burst: Annotated[float, typer.Option(help=_SHARE)] = _DEFAULT.velocity_burst,
    referral_ring: Annotated[float, typer.Option(help=_SHARE)] = _DEFAULT.referral_ring,
    click_spam: Annotated[float, typer.Option(help=_SHARE)] = _DEFAULT.click_spam,
    refund_rate: Annotated[float, typer.Option(help="Base share of orders refunded.")] = 0.06,
    fraud_stealth: Annotated[float, typer.Option(
        help="Share of fraudsters who hide (0: plain fraud, the files of earlier runs).")] = 0.0,
    plan_rules: Annotated[bool, typer.Option(
        "--plan-rules", help="Plans v2: a plan with every rule on, and events using them "
        "(payment channels, regions, quantities, regional agents).")] = False,
) -> None:
    """Simulate a 分销 mall: write events.jsonl, plan.yaml and labels.csv into --out."""
    try:
        start_at = datetime.fromisoformat(start.replace("Z", "+00:00"))
        config = SimulationConfig(
            promoters=promoters, days=days, seed=seed, start=start_at,
            fraud=FraudRates(self_referral, device_farm, refund_abuse, velocity_burst,
                             referral_ring, click_spam),
            refund_base_rate=refund_rate, fraud_stealth=fraud_stealth, plan_rules=plan_rules,
        )
    except ValueError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from None
    summary = simulate(out, config)
    events = ", ".join(f"{name} {count}" for name, count in summary.events.items())
    fraud = ", ".join(f"{name} {count}" for name, count in summary.fraud_promoters.items())
    typer.echo(f"wrote {summary.total_events} events to {out} in {summary.seconds:.1f} s")
    typer.echo(f"  {events}")
    typer.echo(f"  {summary.orders} orders, {summary.customers} customers, GMV {summary.gmv} CNY")
    typer.echo(f"  fraud promoters: {fraud}")
