"""Feature drift: today's profiles against the reference sample the champion was trained on.

Dataset-level drift ("half the columns moved") rarely fires on profiles: most columns are stable
and the ones that matter move alone. So the decision is per critical feature: a column alerts when
its Wasserstein distance, normalised by the reference's standard deviation (Evidently's
`wasserstein` method), passes the threshold. The full Evidently report is still saved, as HTML and
JSON, with a `drift-*` MLflow run so a person can see every column.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import mlflow
import pandas as pd
from evidently import Report
from evidently.presets import DataDriftPreset

from training.data import REFERENCE_ARTIFACT
from training.registry import current_champion, registered_name

CRITICAL_FEATURES = (
    "refund_rate", "conversion_90d", "aov_90d", "orders_30d", "gmv_90d",
    "night_order_share_90d", "order_device_diversity_90d", "own_device_order_share",
)
METHOD = "wasserstein"


@dataclass(frozen=True)
class DriftResult:
    """Per-column drift scores, the critical columns that alerted, and where the report went."""

    model_name: str
    champion_version: str
    threshold: float
    scores: dict[str, float]
    alerts: list[str]
    skipped: list[str] = field(default_factory=list)
    run_id: str | None = None

    @property
    def drifted(self) -> bool:
        return bool(self.alerts)


def load_reference(model_name: str) -> tuple[str, pd.DataFrame]:
    """(champion version, its training reference sample); LookupError without a champion."""
    version = current_champion(model_name)
    if version is None:
        raise LookupError(f"{registered_name(model_name)} has no champion: train it first")
    path = mlflow.artifacts.download_artifacts(run_id=version.run_id,
                                               artifact_path=REFERENCE_ARTIFACT)
    return str(version.version), pd.read_parquet(path)


def column_scores(current: pd.DataFrame, reference: pd.DataFrame, columns: list[str],
                  threshold: float) -> tuple[dict[str, float], object]:
    """Evidently's per-column drift score for `columns`, and the report snapshot."""
    report = Report([DataDriftPreset(columns=columns, method=METHOD, threshold=threshold)])
    snapshot = report.run(current[columns], reference[columns])
    scores: dict[str, float] = {}
    for metric in snapshot.dict()["metrics"]:
        column = metric.get("config", {}).get("column")
        if column in columns and metric["metric_name"].startswith("ValueDrift"):
            scores[column] = float(metric["value"])
    return scores, snapshot


def detect_drift(current: pd.DataFrame, reference: pd.DataFrame, threshold: float,
                 critical: tuple[str, ...] = CRITICAL_FEATURES
                 ) -> tuple[dict[str, float], list[str], list[str], object]:
    """(scores, alerts, skipped columns, report) for the reference's feature columns.

    Columns constant in the reference have no scale to normalise by; they are skipped and named.
    """
    features = [c for c in reference.columns if c in current.columns and c != "promoter_id"
                and pd.api.types.is_numeric_dtype(reference[c])]
    skipped = [c for c in features if reference[c].std() == 0]
    columns = [c for c in features if c not in skipped]
    scores, snapshot = column_scores(current, reference, columns, threshold)
    alerts = [c for c in critical if scores.get(c, 0.0) > threshold]
    return scores, alerts, skipped, snapshot


def check_drift(current: pd.DataFrame, model_name: str, threshold: float,
                critical: tuple[str, ...] = CRITICAL_FEATURES, log_run: bool = True
                ) -> DriftResult:
    """Compare `current` profiles with the champion's reference; log a `drift-*` run with the
    report (HTML and JSON), every column's score and the alerts."""
    version, reference = load_reference(model_name)
    scores, alerts, skipped, snapshot = detect_drift(current, reference, threshold, critical)
    run_id = _log(model_name, version, current, threshold, scores, alerts,
                  snapshot) if log_run else None
    return DriftResult(registered_name(model_name), version, threshold, scores, alerts, skipped,
                       run_id)


def _log(model_name: str, version: str, current: pd.DataFrame, threshold: float,
         scores: dict[str, float], alerts: list[str], snapshot: object) -> str:
    as_of = str(current["as_of"].iloc[0]) if "as_of" in current and len(current) else "unknown"
    with mlflow.start_run(run_name=f"drift-{registered_name(model_name)}") as run:
        mlflow.set_tags({"kind": "drift", "model": registered_name(model_name),
                         "champion_version": version, "drift.alert": str(bool(alerts)),
                         "drift.alerts": ",".join(alerts) or "none"})
        mlflow.log_params({"as_of": as_of, "threshold": threshold, "method": METHOD,
                           "rows_current": len(current)})
        mlflow.log_metrics({f"drift_{c}": s for c, s in scores.items()})
        with tempfile.TemporaryDirectory(prefix="fenrun-drift-") as folder:
            html = Path(folder) / "drift_report.html"
            snapshot.save_html(str(html))  # type: ignore[attr-defined]
            mlflow.log_artifact(str(html), artifact_path="drift")
        mlflow.log_text(json.dumps({"scores": scores, "alerts": alerts}, indent=2),
                        "drift/drift_scores.json")
    return run.info.run_id
