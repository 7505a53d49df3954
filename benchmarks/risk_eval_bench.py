"""Risk scan evaluation, the standard setting of `make bench`: 2,000 promoters, 120 days, seeds
201-203, the simulator's fraud as it is and with half of the fraudsters hiding (stealth 0.5).

Prints the table of `fenrun risk evaluate` for both and logs each as an MLflow run (set
FENRUN_BENCH_MLFLOW=0 to skip). FENRUN_BENCH_SCALE shrinks the malls.
"""

from __future__ import annotations

import os

from training.config import TrainingSettings
from training.risk_evaluation import RiskEvaluationRequest, evaluate
from training.risk_report import format_table, log_evaluation

SEEDS = (201, 202, 203)


def run(promoters: int = 2000) -> None:
    for stealth in (0.0, 0.5):
        request = RiskEvaluationRequest(promoters=max(promoters, 100), seeds=SEEDS,
                                        stealth=stealth)
        result = evaluate(request)
        print(f"stealth {stealth}: {request.promoters} promoters, seeds "
              f"{', '.join(map(str, SEEDS))}, {result['seconds']:.0f}s")
        print(format_table(result))
        if os.environ.get("FENRUN_BENCH_MLFLOW", "1") == "1":
            print(f"mlflow run {log_evaluation(TrainingSettings(), request, result)}")


if __name__ == "__main__":
    run()
