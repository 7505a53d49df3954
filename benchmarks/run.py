"""`make bench`: every benchmark of the project, one after the other, printing figures and ratios.

Sizes default to the targets of the issues; FENRUN_BENCH_SCALE (e.g. 0.1) shrinks them for a quick
look. Ratios are measured within one run, since the machines are shared and noisy.
"""

from __future__ import annotations

import importlib
import os
import time

BENCHMARKS = [
    ("settlement", "benchmarks.settle_bench", {"orders": 100_000}),
    ("simulator", "benchmarks.simulate_bench", {"promoters": 100_000}),
    ("streaming", "benchmarks.stream_bench", {}),
    ("training", "benchmarks.train_bench", {}),
    ("ltv", "benchmarks.ltv_bench", {"promoters": 10_000}),
    ("policy", "benchmarks.policy_bench", {"promoters": 10_000}),
    ("api", "benchmarks.api_bench", {"promoters": 20_000}),
    ("risk rules", "benchmarks.risk_rules_bench", {"promoters": 2000}),
    ("rate api", "benchmarks.rate_api_bench", {"promoters": 1000, "seconds": 30}),
    ("risk evaluation", "benchmarks.risk_eval_bench", {"promoters": 2000}),
    ("order screen", "benchmarks.order_screen_bench", {"orders": 20_000}),
    ("plans v2", "benchmarks.plans_v2_bench", {"promoters": 20_000}),
]


def main() -> None:
    scale = float(os.environ.get("FENRUN_BENCH_SCALE", "1"))
    only = {name for name in os.environ.get("FENRUN_BENCH_ONLY", "").split(",") if name}
    for name, module_name, kwargs in BENCHMARKS:
        if only and name not in only:
            continue
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError:
            print(f"== {name}: not available in this checkout")
            continue
        scaled = {k: max(1, int(v * scale)) for k, v in kwargs.items()}
        print(f"== {name}")
        started = time.perf_counter()
        module.run(**scaled)
        print(f"== {name} done in {time.perf_counter() - started:.0f}s")


if __name__ == "__main__":
    main()
