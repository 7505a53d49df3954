"""Plans v2: settling with every rule on vs the simple plan, on the same orders (issue 15: at most
1.3x the time).

One simulated mall (`--plan-rules`: payment channels, regions, quantities, regional agents) is
parsed once; the same events are settled into fresh books twice per database, once under the
simulator's simple plan (which ignores the v2 fields) and once under the same plan with every v2
key on (timezone, channels, tiers, fixed commissions, grades, ladder, campaigns, caps, max_levels,
agents, overrides). Runs alternate and the best of `rounds` is kept, since the machine is shared.
"""

from __future__ import annotations

import gc
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.settle_bench import scratch_database
from features.simulator import SimulationConfig, simulate
from settlement.db import create_db_engine, upgrade
from settlement.events import Event, parse_json_line
from settlement.plan import PlanBook, parse_plan_text
from settlement.service import apply_events, sort_events

BATCH = 2000
RULES_MARKER = "# Plans v2"


def _mall(promoters: int, days: int, seed: int) -> tuple[list[Event], str, str]:
    with tempfile.TemporaryDirectory() as folder:
        simulate(Path(folder), SimulationConfig(promoters=promoters, days=days, seed=seed,
                                                plan_rules=True))
        text = (Path(folder) / "plan.yaml").read_text()
        lines = (Path(folder) / "events.jsonl").read_text().splitlines()
    events = sort_events(parse_json_line(line) for line in lines)
    return events, text.split(RULES_MARKER)[0], text


def _settle_s(kind: str, plans: PlanBook, events: list[Event]) -> float:
    with scratch_database(kind) as url:
        engine = create_db_engine(url)
        upgrade(engine)
        started = time.perf_counter()
        outcomes = apply_events(engine, plans, events, BATCH)
        elapsed = time.perf_counter() - started
        engine.dispose()
    rejected = [o for o in outcomes if o.status == "rejected"]
    if rejected:
        raise RuntimeError(f"{len(rejected)} events rejected, e.g. {rejected[0].reason}")
    return elapsed


def run(promoters: int = 20_000, days: int = 60, seed: int = 31, rounds: int = 2,
        databases: tuple[str, ...] = ("sqlite", "postgresql")) -> dict[str, Any]:
    events, simple_text, rules_text = _mall(promoters, days, seed)
    gc.freeze()
    orders = sum(1 for e in events if e.type == "order_paid")
    simple = PlanBook(parse_plan_text(simple_text))
    rules = PlanBook(parse_plan_text(rules_text))
    print(f"plans v2: {len(events):,} events, {orders:,} orders ({promoters:,} promoters, "
          f"{days} days, seed {seed}); best of {rounds} alternating runs")
    results: dict[str, Any] = {}
    for kind in databases:
        best = {"simple": float("inf"), "rules": float("inf")}
        for _ in range(rounds):
            for name, plans in (("simple", simple), ("rules", rules)):
                best[name] = min(best[name], _settle_s(kind, plans, events))
        ratio = best["rules"] / best["simple"]
        results[kind] = {**best, "ratio": ratio, "orders": orders}
        print(f"plans v2[{kind}]: simple plan {orders / best['simple']:,.0f} orders/s "
              f"({best['simple']:.1f}s); every rule on {orders / best['rules']:,.0f} orders/s "
              f"({best['rules']:.1f}s); ratio {ratio:.2f} (target <= 1.30)")
    return results


if __name__ == "__main__":
    run(int(os.environ.get("FENRUN_BENCH_PROMOTERS", "20000")))
