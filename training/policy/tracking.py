"""Log a policy evaluation to MLflow: request as params, summary as metrics, JSON as artifact."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import mlflow

from training.config import TrainingSettings
from training.policy.report import summarise
from training.registry import configure_tracking

RUN_NAME = "fenrun-rate-policy-evaluation"


def log_evaluation(settings: TrainingSettings, result: dict) -> str:
    """One MLflow run per evaluation; returns its run id."""
    configure_tracking(settings)
    request = result["request"]
    with mlflow.start_run(run_name=RUN_NAME) as run:
        mlflow.log_params({
            "promoters": request["promoters"], "cycles": request["cycles"],
            "exploration": request["exploration"], "history_cycles": request["history_cycles"],
            "response_mean": request["response"]["response_mean"],
            "response_spread": request["response"]["response_spread"],
            "churn_cut_pp": request["response"]["churn_cut_pp"],
            "budget_share": request["policy"]["budget_share"],
            "exploration_keep": request["policy"]["exploration_keep"],
            "champion_rule": "learned DR estimate > plan DR estimate on the same logs",
        })
        metrics = {k: float(v) for k, v in summarise(result).items() if v is not None}
        metrics["seconds"] = float(result["seconds"])
        mlflow.log_metrics(metrics)
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "policy_evaluation.json"
            path.write_text(json.dumps(result, indent=1, default=float), encoding="utf-8")
            mlflow.log_artifact(str(path))
        return run.info.run_id
