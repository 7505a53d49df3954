"""Presenting a risk evaluation: the table `fenrun risk evaluate` prints, its JSON (NaN -> null:
a metric with nothing to measure, e.g. recall of a fraud type a small mall did not draw), and one
MLflow run per evaluation (`--mlflow`, `make bench`): the request as parameters, the mean and
worst metrics, the full JSON as an artifact."""

from __future__ import annotations

import json
import math
import tempfile
from pathlib import Path
from typing import Any

import mlflow

from features.simulator.config import FRAUD_TYPES
from training.config import TrainingSettings
from training.registry import configure_tracking
from training.risk_evaluation import RiskEvaluationRequest, request_settings

RUN_NAME = "risk-evaluation"


def flat_metrics(result: dict[str, Any]) -> dict[str, float]:
    """`mean_pr_auc`, `mean_recall_self_referral`, `worst_pr_auc`, ...: finite numbers only."""
    out: dict[str, float] = {}
    for part in ("mean", "worst"):
        for key, value in result[part].items():
            items = value.items() if isinstance(value, dict) else [("", value)]
            for kind, number in items:
                name = f"{part}_{key}" if not kind else f"{part}_recall_{kind}"
                if isinstance(number, int | float) and not math.isnan(number):
                    out[name] = float(number)
    out["seconds"] = float(result["seconds"])
    return out


def without_nan(value: Any) -> Any:
    """`value` with every NaN float replaced by None, recursively (strict JSON has no NaN)."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: without_nan(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [without_nan(v) for v in value]
    return value


def to_json(result: dict[str, Any]) -> str:
    """The evaluation as strict JSON (`allow_nan=False`: a NaN left over would fail here)."""
    return json.dumps(without_nan(result), indent=1, allow_nan=False, default=float)


def log_evaluation(settings: TrainingSettings, request: RiskEvaluationRequest,
                   result: dict[str, Any]) -> str:
    """One run per evaluation; returns its id."""
    configure_tracking(settings)
    with mlflow.start_run(run_name=RUN_NAME) as run:
        mlflow.log_params(request_settings(request))
        mlflow.log_metrics(flat_metrics(result))
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "risk_evaluation.json"
            path.write_text(to_json(result), encoding="utf-8")
            mlflow.log_artifact(str(path))
        return run.info.run_id


def _pct(value: float) -> str:
    return "  n/a" if value is None or math.isnan(value) else f"{100 * value:5.1f}"


def format_table(result: dict[str, Any]) -> str:
    """One line per seed and the mean: the headline metrics in percent."""
    short = {"self_referral": "self", "device_farm": "farm", "refund_abuse": "refund",
             "velocity_burst": "burst", "referral_ring": "ring", "click_spam": "click"}
    head = (f"{'seed':>6} {'PR-AUC':>6} {'top1%':>6} "
            + " ".join(f"{short[k]:>6}" for k in FRAUD_TYPES)
            + f" {'rings':>6} {'fraud$':>6} {'honest$':>7} {'sup+':>6}")
    lines = ["recall at 1 % FPR per type; rings caught; fraud commission caught and honest unpaid "
             "commission held (%); sup+ = PR-AUC gain of the supervised model (out of time)",
             head]
    rows = [(str(s["seed"]), s, s["supervised"].get("pr_auc_gain", math.nan))
            for s in result["seeds"]]
    rows.append(("mean", result["mean"], result["mean"]["supervised_pr_auc_gain"]))
    for name, row, gain in rows:
        recall = " ".join(f"{_pct(row['recall_at_1pct_fpr'][k]):>6}" for k in FRAUD_TYPES)
        lines.append(f"{name:>6} {_pct(row['pr_auc']):>6} {_pct(row['precision_top_1pct']):>6} "
                     f"{recall} {_pct(row['rings_caught_share']):>6} "
                     f"{_pct(row['fraud_commission_caught_share']):>6} "
                     f"{_pct(row['honest_unpaid_held_share']):>7} {_pct(gain):>6}")
    return "\n".join(lines)
