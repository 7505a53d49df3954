"""A deterministic 分销 mall simulator: events, a commission plan and labelled fraud.

Entry point: `simulate(out_dir, SimulationConfig(...)) -> SimulationSummary` writes
`events.jsonl` (the settlement event format), `plan.yaml` and `labels.csv`. The CLI wrapper is
`features.simulator.command.simulate_command`. Imports only numpy, the standard library and typer.
"""

from features.simulator.config import FraudRates, SimulationConfig, SimulationSummary
from features.simulator.service import simulate

__all__ = ["FraudRates", "SimulationConfig", "SimulationSummary", "simulate"]
