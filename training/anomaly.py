"""Promoter anomaly detector: an IsolationForest over behaviour features, judged on fraud labels.

Unsupervised on purpose: real malls rarely have labels, and new fraud patterns have none. Labels
(the simulator's, or investigation outcomes) are used only to *evaluate* on the holdout promoters:
PR-AUC (the gate metric: fraud is rare, so ROC-AUC flatters), precision in the top k (k = number of
known fraudsters held out: "if we review as many as there are, how many are real?") and recall per
fraud type within an alert budget (the share of promoters a team can review).

Without labels a version is still trained and registered, but its PR-AUC is NaN and the gate never
promotes it: nobody can say it is better than the champion.
"""

from __future__ import annotations

import math

import mlflow
import numpy as np
import pandas as pd
from mlflow.models import infer_signature
from sklearn.ensemble import IsolationForest
from sklearn.metrics import average_precision_score

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


def anomaly_scores(model: IsolationForest, frame: pd.DataFrame) -> np.ndarray:
    """Higher = more anomalous (the negated `score_samples`)."""
    return -model.score_samples(frame[list(model.feature_names_in_)])


def evaluate(scores: np.ndarray, fraud_type: pd.Series, alert_share: float = ALERT_SHARE
             ) -> dict[str, float]:
    """PR-AUC, precision at k (k = positives) and at the alert budget, recall per fraud type."""
    is_fraud = (fraud_type != CLEAN).to_numpy()
    positives = int(is_fraud.sum())
    if positives == 0 or positives == len(is_fraud):
        return {"pr_auc": math.nan}
    order = np.argsort(-scores, kind="stable")
    budget = max(1, math.ceil(alert_share * len(scores)))
    flagged = np.zeros(len(scores), dtype=bool)
    flagged[order[:budget]] = True
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
                                 score_champion)
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


REASONS = 3  # features named per flagged promoter
MAD_TO_SD = 1.4826  # the median absolute deviation of a normal sample, scaled to its sd


def _robust_z(features: pd.DataFrame) -> pd.DataFrame:
    """(x - median) / (1.4826 · MAD) per column; a column with no spread in the median half
    falls back to its standard deviation, and a constant one to 0 (it explains nothing)."""
    values = features.astype("float64")
    median = values.median()
    spread = (values - median).abs().median() * MAD_TO_SD
    spread = spread.where(spread > 0, values.std(ddof=0))
    z = (values - median) / spread.where(spread > 0)
    return z.fillna(0.0)


def flag(profiles: pd.DataFrame, model_uri: str, alert_share: float = ALERT_SHARE
         ) -> pd.DataFrame:
    """Score every profiled promoter with a registered detector (e.g. the champion's URI) and
    flag the top `alert_share` (the risk team's review budget) for triage.

    Returns promoter_id, score (higher = more anomalous), rank (1 = most anomalous), flagged, and
    `reasons` (flagged promoters only): the features in which the promoter is furthest from the
    population median, in robust standard deviations, e.g. "own_device_order_share 0.93 (median
    0, +12.1 sd)". The forest does not say why it isolated a point; the reasons are where a
    reviewer looks first.
    """
    if not 0 < alert_share <= 1:
        raise ValueError(f"alert_share: {alert_share} must be in (0, 1]")
    model = mlflow.sklearn.load_model(model_uri)
    features = list(model.feature_names_in_)
    frame = profiles[features]
    scores = anomaly_scores(model, profiles)
    order = np.argsort(-scores, kind="stable")
    rank = np.empty(len(scores), dtype=np.int64)
    rank[order] = np.arange(1, len(scores) + 1)
    budget = max(1, math.ceil(alert_share * len(scores))) if len(scores) else 0
    flagged = rank <= budget
    z = _robust_z(frame).to_numpy()
    values, median = frame.to_numpy(dtype=np.float64), frame.median().to_numpy()
    furthest = np.argsort(-np.abs(z), axis=1, kind="stable")[:, :REASONS]
    reasons = [""] * len(frame)
    for i in np.flatnonzero(flagged):  # only the rows a reviewer will read
        reasons[i] = "; ".join(
            f"{features[j]} {values[i, j]:.4g} (median {median[j]:.4g}, {z[i, j]:+.1f} sd)"
            for j in furthest[i] if z[i, j] != 0)
    return pd.DataFrame({"promoter_id": profiles["promoter_id"].to_numpy(), "score": scores,
                         "rank": rank, "flagged": flagged, "reasons": reasons})
