"""Plans v2: settling with every rule on vs the simple plan, on the same orders (issue 15: at most
1.3x the time).

One simulated mall (`--plan-rules`: payment channels, regions, quantities, regional agents) is
parsed once; the same events are settled into fresh books twice per database, once under the
simulator's simple plan (which ignores the v2 fields) and once under the same plan with every v2
key on (timezone, channels, tiers, fixed commissions, grades, ladder, campaigns, caps, max_levels,
agents, overrides). Runs alternate and the best of `rounds` is kept. The machine is shared, so
wall time swings with other work; CPU time (this process, plus the PostgreSQL backends when the
server runs here) is reported beside it and is the steadier ratio.
"""

from __future__ import annotations

import gc
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.floors import backend_cpu_s, own_cpu_s
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


def _settle_s(kind: str, plans: PlanBook, events: list[Event]) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process and of the database backends)."""
    with scratch_database(kind) as url:
        engine = create_db_engine(url)
        upgrade(engine)
        server_before = backend_cpu_s(engine)
        cpu_before = own_cpu_s()
        started = time.perf_counter()
        outcomes = apply_events(engine, plans, events, BATCH)
        elapsed = time.perf_counter() - started
        cpu = own_cpu_s() - cpu_before
        server_after = backend_cpu_s(engine)
        if server_before is not None and server_after is not None:
            cpu += server_after - server_before
        engine.dispose()
    rejected = [o for o in outcomes if o.status == "rejected"]
    if rejected:
        raise RuntimeError(f"{len(rejected)} events rejected, e.g. {rejected[0].reason}")
    return elapsed, cpu


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
        wall = {"simple": float("inf"), "rules": float("inf")}
        cpu = dict(wall)
        for _ in range(rounds):
            for name, plans in (("simple", simple), ("rules", rules)):
                seconds, cpu_s = _settle_s(kind, plans, events)
                wall[name], cpu[name] = min(wall[name], seconds), min(cpu[name], cpu_s)
        ratio, cpu_ratio = wall["rules"] / wall["simple"], cpu["rules"] / cpu["simple"]
        results[kind] = {"wall": wall, "cpu": cpu, "ratio": ratio, "cpu_ratio": cpu_ratio,
                         "orders": orders}
        print(f"plans v2[{kind}]: simple plan {orders / wall['simple']:,.0f} orders/s "
              f"({wall['simple']:.1f}s, cpu {cpu['simple']:.1f}s); every rule on "
              f"{orders / wall['rules']:,.0f} orders/s ({wall['rules']:.1f}s, cpu "
              f"{cpu['rules']:.1f}s); ratio wall {ratio:.2f}, cpu {cpu_ratio:.2f} "
              "(target <= 1.30)")
    return results


if __name__ == "__main__":
    run(int(os.environ.get("FENRUN_BENCH_PROMOTERS", "20000")))
