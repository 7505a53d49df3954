"""Promoter anomaly detector: an IsolationForest over behaviour features, judged on fraud labels.

Unsupervised on purpose: real malls rarely have labels, and new fraud patterns have none. Labels
(the simulator's, or investigation outcomes) are used only to *evaluate* on the holdout promoters:
PR-AUC (the gate metric: fraud is rare, so ROC-AUC flatters), precision in the top k (k = number of
known fraudsters held out: "if we review as many as there are, how many are real?") and recall per
fraud type within an alert budget (the share of promoters a team can review).

Without labels a version is still trained and registered, but its PR-AUC is NaN: the first one
becomes champion unscored (ranking needs no labels, and a mall without any still gets its risk
triage), a later one stays challenger because nobody can say it is better than the champion.
"""

from __future__ import annotations

import math

import mlflow
import numpy as np
import pandas as pd
from mlflow.models import infer_signature
from sklearn.ensemble import IsolationForest
from sklearn.metrics import average_precision_score

from features.outliers import anomaly_scores, rank_and_flag
from training import data
from training.config import TrainingSettings
from training.labels import CLEAN, load_promoter_labels
from training.registry import (
    SKLEARN_REQUIREMENTS,
    data_fingerprint,
    log_model_card,
    register_and_gate,
)
from training.trainers import TrainOutcome

NAME = "anomaly"
SKOPS_TRUSTED = ["sklearn.tree._tree.Tree"]
ANOMALY_FEATURES = (
    "orders_30d", "touches_90d", "conversion_90d", "aov_90d", "refund_rate",
    "refund_after_release_share", "quick_confirm_share", "customers_acquired",
    "customer_repeat_rate", "weekly_gmv_cv", "channel_share_h5_link",
    "order_device_diversity_90d", "order_ip_diversity_90d", "touch_device_diversity_90d",
    "own_device_order_share", "shared_join_device_count", "night_order_share_90d",
    "max_orders_1h_90d",
)
ALERT_SHARE = 0.05  # share of promoters the risk team can review
N_ESTIMATORS = 300


def fit_detector(features: pd.DataFrame, seed: int) -> IsolationForest:
    """An IsolationForest with a fixed seed; `contamination` only sets `predict`, not scores."""
    model = IsolationForest(n_estimators=N_ESTIMATORS, max_samples=min(1024, len(features)),
                            contamination="auto", random_state=seed, n_jobs=1)
    return model.fit(features)


def evaluate(scores: np.ndarray, fraud_type: pd.Series, alert_share: float = ALERT_SHARE
             ) -> dict[str, float]:
    """PR-AUC, precision at k (k = positives) and at the alert budget, recall per fraud type."""
    is_fraud = (fraud_type != CLEAN).to_numpy()
    positives = int(is_fraud.sum())
    if positives == 0 or positives == len(is_fraud):
        return {"pr_auc": math.nan}
    order = np.argsort(-scores, kind="stable")
    _, flagged = rank_and_flag(scores, alert_share)  # the budget serving flags on the champion
    metrics = {
        "pr_auc": float(average_precision_score(is_fraud, scores)),
        "base_rate": positives / len(is_fraud),
        "precision_at_k": float(is_fraud[order[:positives]].mean()),
        "k": float(positives),
        "precision_at_budget": float(is_fraud[flagged].mean()),
        "recall_at_budget": float(flagged[is_fraud].mean()),
    }
    types = fraud_type.to_numpy()
    for kind in sorted(set(types) - {CLEAN}):
        metrics[f"recall_{kind}"] = float(flagged[types == kind].mean())
    return metrics


def _labels_for(profiles: pd.DataFrame, settings: TrainingSettings) -> pd.Series | None:
    if not settings.fraud_labels_path:
        return None
    labels = load_promoter_labels(settings.fraud_labels_path)
    return profiles["promoter_id"].map(labels).fillna(CLEAN).rename("fraud_type")


def train(settings: TrainingSettings, profiles: pd.DataFrame | None = None) -> TrainOutcome:
    """Fit on the training promoters, evaluate on the holdout's labels, log, register and gate."""
    if profiles is None:
        profiles = data.load_profiles(settings, data.resolve_as_of(settings))
    features = list(ANOMALY_FEATURES)
    train_part, holdout = data.split(profiles, settings.holdout_fraction)
    model = fit_detector(train_part[features], settings.seed)
    labels = _labels_for(holdout, settings)
    metrics = (evaluate(anomaly_scores(model, holdout), labels) if labels is not None
               else {"pr_auc": math.nan})

    def score_champion(uri: str) -> float:
        if labels is None:
            return math.nan
        champion = mlflow.sklearn.load_model(uri)
        return evaluate(anomaly_scores(champion, holdout), labels)["pr_auc"]

    with mlflow.start_run(run_name=f"{NAME}-{profiles['as_of'].iloc[0]:%Y%m%dT%H%M}") as run:
        _log_run(settings, model, profiles, train_part, metrics, labels is not None)
    decision = register_and_gate(run.info.run_id, "model", NAME, "pr_auc", metrics["pr_auc"],
                                 score_champion, unscored=None if labels is not None else
                                 "no fraud labels (pass --labels to compare detectors)")
    return TrainOutcome(NAME, run.info.run_id, decision, metrics)


def _log_run(settings: TrainingSettings, model: IsolationForest, profiles: pd.DataFrame,
             train_part: pd.DataFrame, metrics: dict[str, float], labelled: bool) -> None:
    features = list(model.feature_names_in_)
    mlflow.log_params({"n_estimators": N_ESTIMATORS, "max_samples": model.max_samples,
                       "seed": settings.seed, "alert_share": ALERT_SHARE,
                       "as_of": str(profiles["as_of"].iloc[0]), "n_train": len(train_part),
                       "n_holdout": len(profiles) - len(train_part), "labelled": labelled})
    mlflow.set_tag("data_fingerprint", data_fingerprint(profiles[["promoter_id", *features]]))
    mlflow.log_metrics({k: v for k, v in metrics.items() if not math.isnan(v)})
    mlflow.log_dict({"features": features}, "features.json")
    example = train_part[features].head(5)
    mlflow.sklearn.log_model(model, name="model", input_example=example,
                             signature=infer_signature(example, model.predict(example)),
                             skops_trusted_types=SKOPS_TRUSTED,
                             pip_requirements=SKLEARN_REQUIREMENTS)
    data.log_reference(profiles[["promoter_id", *features]], settings.seed)
    log_model_card(
        model_name=NAME,
        purpose="Rank promoters by how unusual their behaviour is, for the risk team to review "
                "before paying out (self-referral, device farms, refund abuse, bursts, rings, "
                "click spam).",
        data={"as_of": str(profiles["as_of"].iloc[0]), "promoters": len(profiles),
              "labels": settings.fraud_labels_path or "none (metrics unavailable)"},
        features=features, metrics=metrics,
        limits=["Scores rank, they do not prove fraud: a person reviews every alert.",
                "Promoter-level only; order-level patterns are visible only through aggregates.",
                "Evaluated on simulated fraud unless real investigation labels are supplied.",
                "New promoters with little history are scored on sparse features."])

