"""Promoter segments: k-means on standardised profile features, k chosen by silhouette, readable
names from the centroids, and segment ids that stay put across retrains.

Why these choices:
- arcsinh before scaling: GMV, orders and commission are heavy-tailed (and commission can be
  negative after refunds); arcsinh is log-like for large values and defined everywhere.
- k by silhouette over `K_RANGE` on the training part: a stated, reproducible criterion. The
  gate metric is the silhouette of the holdout promoters, both models' labels measured in the
  candidate's feature space, so candidate and champion are compared on the same points and geometry.
- Stable ids: the growth team's rules ("segment 2 gets immediate settlement") must survive a
  retrain. New centroids are matched to the previous champion's by the Hungarian assignment on
  centroid distance; matched clusters keep the old id, new ones take fresh ids.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import cloudpickle
import mlflow
import numpy as np
import pandas as pd
from mlflow.models import infer_signature
from scipy.optimize import linear_sum_assignment
from sklearn.cluster import KMeans
from sklearn.metrics import silhouette_score
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

from training import data
from training.config import TrainingSettings
from training.registry import (
    SKLEARN_REQUIREMENTS,
    current_champion,
    data_fingerprint,
    log_model_card,
    register_and_gate,
)
from training.trainers import TrainOutcome

NAME = "segments"
SEGMENT_FEATURES = (
    "gmv_90d", "orders_90d", "commission_90d", "conversion_90d", "aov_90d", "refund_rate",
    "customers_acquired", "customer_repeat_rate", "downline_size", "active_downline_30d",
    "tenure_days", "weekly_gmv_cv", "active_weeks_share",
)
K_RANGE = range(3, 9)
SILHOUETTE_SAMPLE = 4_000
# How a centroid far above / below the population reads, per feature.
WORDS = {
    "gmv_90d": ("high-GMV", "low-GMV"), "orders_90d": ("frequent", "rare-order"),
    "commission_90d": ("high-commission", "low-commission"),
    "conversion_90d": ("converting", "non-converting"), "aov_90d": ("big-basket", "small-basket"),
    "refund_rate": ("refund-heavy", "refund-free"), "customers_acquired": ("acquirers", ""),
    "customer_repeat_rate": ("loyal-customer", "one-off-customer"),
    "downline_size": ("recruiters", ""), "active_downline_30d": ("team-leaders", ""),
    "tenure_days": ("veterans", "novices"), "weekly_gmv_cv": ("bursty", "steady"),
    "active_weeks_share": ("consistently active", "dormant"),
}


def _pipeline(k: int, seed: int) -> Pipeline:
    return make_pipeline(FunctionTransformer(np.arcsinh, feature_names_out="one-to-one"),
                         StandardScaler(), KMeans(n_clusters=k, n_init=10, random_state=seed))


def _sample(n: int, seed: int, limit: int = SILHOUETTE_SAMPLE) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(n, size=min(n, limit), replace=False))


def silhouette(space: np.ndarray, labels: np.ndarray, seed: int) -> float:
    """Silhouette on a seeded sample (exact below `SILHOUETTE_SAMPLE` rows); -1 for one cluster."""
    rows = _sample(len(space), seed)
    if len(np.unique(labels[rows])) < 2:
        return -1.0
    return float(silhouette_score(space[rows], labels[rows]))


def choose_k(features: pd.DataFrame, seed: int, k_range: range = K_RANGE
             ) -> tuple[Pipeline, dict[int, float]]:
    """Fit one pipeline per k, keep the one with the highest training silhouette (ties: fewer k)."""
    scores: dict[int, float] = {}
    best: Pipeline | None = None
    for k in k_range:
        model = _pipeline(k, seed).fit(features)
        space = model[:-1].transform(features)
        scores[k] = silhouette(space, model[-1].labels_, seed)
        if best is None or scores[k] > scores[best[-1].n_clusters]:
            best = model
    if best is None:
        raise ValueError("k_range is empty")
    return best, scores


@dataclass
class SegmentModel(mlflow.pyfunc.PythonModel):  # type: ignore[name-defined]
    """A fitted pipeline plus the stable id and name of each of its clusters."""

    pipeline: Pipeline
    ids: list[int]
    names: dict[int, str]
    features: list[str]

    def predict(self, context: object, model_input: pd.DataFrame,
                params: dict | None = None) -> pd.DataFrame:
        labels = self.pipeline.predict(model_input[self.features])
        ids = np.asarray(self.ids)[labels]
        return pd.DataFrame({"segment_id": ids.astype("int64"),
                             "segment_name": [self.names[i] for i in ids]})

    def raw_centroids(self) -> np.ndarray:
        """Centroids in arcsinh units (before scaling): comparable across pipelines."""
        return self.pipeline[1].inverse_transform(self.pipeline[-1].cluster_centers_)


def stable_ids(model: Pipeline, previous: SegmentModel | None) -> list[int]:
    """Id per cluster: Hungarian match to the previous champion's centroids, else GMV order."""
    centers = model[-1].cluster_centers_
    if previous is None or list(previous.pipeline.feature_names_in_) != list(
            model.feature_names_in_):
        gmv = list(model.feature_names_in_).index("gmv_90d")
        order = np.argsort(-centers[:, gmv], kind="stable")
        return [int(np.where(order == label)[0][0]) for label in range(len(centers))]
    old = model[1].transform(previous.raw_centroids())
    cost = np.linalg.norm(centers[:, None, :] - old[None, :, :], axis=2)
    rows, cols = linear_sum_assignment(cost)
    ids = [-1] * len(centers)
    for row, col in zip(rows, cols, strict=True):
        ids[row] = previous.ids[col]
    fresh = iter(range(max(previous.ids) + 1, max(previous.ids) + 1 + len(centers)))
    return [i if i >= 0 else next(fresh) for i in ids]


def name_segments(model: Pipeline, ids: list[int]) -> dict[int, str]:
    """A readable name per segment from the two most distinctive centroid coordinates."""
    features = list(model.feature_names_in_)
    names: dict[int, str] = {}
    for label, segment_id in enumerate(ids):
        z = model[-1].cluster_centers_[label]
        words: list[str] = []
        for j in np.argsort(-np.abs(z), kind="stable"):
            word = WORDS.get(features[j], ("", ""))[0 if z[j] > 0 else 1]
            if abs(z[j]) >= 0.5 and word and len(words) < 2:
                words.append(word)
        if np.sinh(model[1].inverse_transform(z[None, :])[0, features.index("gmv_90d")]) < 1.0:
            words = ["inactive", *words[:1]]  # sells nothing: that is what matters most
        name = " ".join(words) if words else "typical"
        names[segment_id] = name if name not in names.values() else f"{name} ({segment_id})"
    return names


def holdout_silhouette(candidate: Pipeline, labels: np.ndarray, holdout: pd.DataFrame,
                       seed: int) -> float:
    """Silhouette of `labels` on the holdout, measured in the candidate's scaled space."""
    return silhouette(candidate[:-1].transform(holdout[list(candidate.feature_names_in_)]),
                      labels, seed)


def _previous(settings: TrainingSettings) -> SegmentModel | None:
    version = current_champion(NAME)
    if version is None:
        return None
    loaded = mlflow.pyfunc.load_model(f"models:/fenrun-{NAME}/{version.version}")
    model = loaded.unwrap_python_model()
    return model if isinstance(model, SegmentModel) else None


def train(settings: TrainingSettings, profiles: pd.DataFrame | None = None,
          k_range: range = K_RANGE) -> TrainOutcome:
    """Fit, name, id, log and gate a segmentation of the profiles as of `settings.train_as_of`."""
    if profiles is None:
        profiles = data.load_profiles(settings, data.resolve_as_of(settings))
    features = list(SEGMENT_FEATURES)
    train_part, holdout = data.split(profiles, settings.holdout_fraction)
    pipeline, scores = choose_k(train_part[features], settings.seed, k_range)
    previous = _previous(settings)
    ids = stable_ids(pipeline, previous)
    model = SegmentModel(pipeline, ids, name_segments(pipeline, ids), features)
    candidate = holdout_silhouette(pipeline, pipeline.predict(holdout[features]), holdout,
                                   settings.seed)

    def score_champion(uri: str) -> float:
        champion = mlflow.pyfunc.load_model(uri)
        labels = champion.predict(holdout[features])["segment_id"].to_numpy()
        return holdout_silhouette(pipeline, labels, holdout, settings.seed)

    with mlflow.start_run(run_name=f"{NAME}-{profiles['as_of'].iloc[0]:%Y%m%dT%H%M}") as run:
        metrics = _log_run(settings, model, profiles, train_part, scores, candidate)
    decision = register_and_gate(run.info.run_id, "model", NAME, "silhouette_holdout",
                                 candidate, score_champion)
    return TrainOutcome(NAME, run.info.run_id, decision, metrics)


def _log_run(settings: TrainingSettings, model: SegmentModel, profiles: pd.DataFrame,
             train_part: pd.DataFrame, scores: dict[int, float], candidate: float
             ) -> dict[str, float]:
    features = model.features
    k = model.pipeline[-1].n_clusters
    sizes = model.predict(None, train_part)["segment_id"].value_counts(normalize=True)
    mlflow.log_params({"k": k, "k_range": f"{min(scores)}..{max(scores)}", "seed": settings.seed,
                       "criterion": "silhouette (train sample)", "as_of": str(
                           profiles["as_of"].iloc[0]), "n_train": len(train_part),
                       "n_holdout": len(profiles) - len(train_part)})
    mlflow.set_tag("data_fingerprint", data_fingerprint(profiles[["promoter_id", *features]]))
    metrics = {f"silhouette_train_k{n}": s for n, s in scores.items()}
    metrics["silhouette_holdout"] = candidate
    metrics.update({f"segment_share_{i}": float(s) for i, s in sizes.items()})
    mlflow.log_metrics(metrics)
    mlflow.log_dict({"features": features}, "features.json")
    segments = {int(i): {"name": model.names[i], "share": float(sizes.get(i, 0.0)),
                         "centroid": dict(zip(features, np.sinh(c).round(4).tolist(),
                                              strict=True))}
                for i, c in zip(model.ids, model.raw_centroids(), strict=True)}
    mlflow.log_text(json.dumps(segments, indent=2, ensure_ascii=False), "segments.json")
    example = train_part[features].head(5)
    mlflow.pyfunc.log_model(name="model", python_model=model, input_example=example,
                            signature=infer_signature(example, model.predict(None, example)),
                            pip_requirements=[*SKLEARN_REQUIREMENTS,
                                              f"cloudpickle=={cloudpickle.__version__}"])
    data.log_reference(profiles[["promoter_id", *features]], settings.seed)
    log_model_card(
        model_name=NAME, purpose="Group promoters so each group can be treated differently "
        "(settlement speed, base pay, bonus rules).",
        data={"as_of": str(profiles["as_of"].iloc[0]), "promoters": len(profiles),
              "holdout_fraction": settings.holdout_fraction},
        features=features, metrics=metrics | {"k": k},
        params={"segments": "; ".join(f"{i}: {v['name']}" for i, v in segments.items())},
        limits=["Silhouette favours few, well separated groups; it says nothing about business "
                "value.", "Names are heuristics from centroid z-scores; read segments.json.",
                "Ids are stable only while the feature list is unchanged."])
    return metrics

