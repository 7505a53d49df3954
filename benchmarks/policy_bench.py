"""Rate policy at scale: 10,000 promoters, a logged history, then 12 cycles of every policy.

Prints the time and the peak traced memory (tracemalloc: Python and numpy allocations, not
LightGBM's native heap) of one seed, and logs the evaluation to MLflow (`make bench`).
FENRUN_BENCH_SCALE shrinks the mall; the quality figures come from `fenrun policy evaluate`.
"""

from __future__ import annotations

import os
import resource
import time
import tracemalloc

from features.simulator.response_config import ResponseConfig
from serving.guardrails import GuardrailSettings, RateGuard
from training.config import TrainingSettings
from training.policy.config import PolicyConfig
from training.policy.evaluation import EvaluationRequest, evaluate_policies
from training.policy.report import format_table
from training.policy.tracking import log_evaluation

PROMOTERS, CYCLES = 10_000, 12


def run(promoters: int = PROMOTERS, cycles: int = CYCLES) -> dict[str, float]:
    request = EvaluationRequest(promoters=max(promoters, 10), seeds=(101,), cycles=cycles,
                                exploration=0.10, response=ResponseConfig(),
                                policy=PolicyConfig())
    tracemalloc.start()
    started = time.perf_counter()
    result = evaluate_policies(request, RateGuard(GuardrailSettings()))
    seconds = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(format_table(result))
    print(f"policy evaluate {promoters} promoters x {cycles} cycles: {seconds:.1f} s, "
          f"peak traced memory {peak / 1e6:.0f} MB, peak RSS of the process "
          f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
    if os.environ.get("FENRUN_BENCH_MLFLOW", "1") == "1":
        print(f"mlflow run {log_evaluation(TrainingSettings(), result)}")
    return {"seconds": seconds, "peak_mb": peak / 1e6}


if __name__ == "__main__":
    run()
