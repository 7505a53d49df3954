"""Simulator throughput: 100,000 promoters over 365 days into a temporary directory."""

from __future__ import annotations

import tempfile
from pathlib import Path

from features.simulator import SimulationConfig, simulate

PROMOTERS, DAYS = 100_000, 365


def run(promoters: int = PROMOTERS, days: int = DAYS) -> dict[str, float]:
    """Simulate once and return events, orders, seconds and events per second."""
    with tempfile.TemporaryDirectory(prefix="fenrun-sim-") as tmp:
        summary = simulate(Path(tmp), SimulationConfig(promoters=promoters, days=days, seed=7))
        size_mb = (Path(tmp) / "events.jsonl").stat().st_size / 1e6
    result = {
        "promoters": promoters, "days": days, "events": summary.total_events,
        "orders": summary.orders, "seconds": summary.seconds,
        "events_per_s": round(summary.total_events / summary.seconds),
        "events_mb": round(size_mb, 1),
    }
    print(f"simulate {promoters} promoters x {days} days: {summary.total_events} events "
          f"({summary.orders} orders, {size_mb:.0f} MB) in {summary.seconds:.1f} s = "
          f"{result['events_per_s']:,} events/s")
    return result


if __name__ == "__main__":
    run()
