"""Labels from decisions -> a supervised risk model (LightGBM) that joins the anomaly score.

Every case the risk team confirms is a fraud label (1), every case it dismisses an honest one (0);
open cases are no label. Once `min_labels` exist (with `min_per_class` of each outcome) a gradient
boosted classifier is fitted on the promoters' profile features and rule confidences
(`features.risk_score.supervised_features`) as of each case's scan. Fewer labels: no model
(`CannotTrain` saying how many there are), and the scan keeps ranking with the anomaly model.

Out of time, always: the gate holds out the most recently decided `holdout_share` of the cases, fits
on the earlier ones, scores PR-AUC on the later ones, and the fitted model is what is registered
(`models:/fenrun-risk-supervised@champion` when it beats the champion on the same later cases).
Serving loads it only through `serving.champions`.

Selection bias, said plainly: the labels are the cases someone looked at (flagged by the rules
or the anomaly model), not a random sample; the model learns "which flagged promoters turn out
to be fraud", which is what it is used for.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import lightgbm as lgb
import mlflow
import numpy as np
import pandas as pd
from mlflow.models import infer_signature

from features.profiles.domain import as_utc, restrict_to
from features.profiles.repository import load_raw_frames
from features.profiles.service import build_profiles
from features.risk_rules import run_rules
from features.risk_score import supervised_features
from settlement.db import create_db_engine
from training.config import TrainingSettings
from training.registry import data_fingerprint, log_model_card, register_and_gate
from training.risk_metrics import pr_auc, precision_top
from training.trainers import CannotTrain, TrainOutcome

NAME = "risk-supervised"
CONFIRMED, DISMISSED = "confirmed", "dismissed"
OUTCOME_LABEL = {CONFIRMED: 1, DISMISSED: 0}


@dataclass(frozen=True)
class SupervisedConfig:
    """When a supervised model may be trained, and how (LightGBM parameters, small on purpose:
    a few hundred labels at most on a young mall)."""

    min_labels: int = 40  # decided cases before any model is trained
    min_per_class: int = 5  # ... with at least this many confirmed and dismissed each
    holdout_share: float = 0.25  # most recent decisions held out for the gate
    num_boost_round: int = 150
    learning_rate: float = 0.05
    num_leaves: int = 7
    min_data_in_leaf: int = 5
    seed: int = 42

    def __post_init__(self) -> None:
        for name in ("min_labels", "min_per_class", "num_boost_round", "num_leaves",
                     "min_data_in_leaf"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name}: {getattr(self, name)!r} must be at least 1")
        if not 0.0 < self.holdout_share < 1.0:
            raise ValueError(f"holdout_share: {self.holdout_share!r} must be in (0, 1)")
        if not 0.0 < self.learning_rate <= 1.0:
            raise ValueError(f"learning_rate: {self.learning_rate!r} must be in (0, 1]")


def decision_labels(decisions: pd.DataFrame) -> pd.Series:
    """1 per confirmed case, 0 per dismissed, indexed like `decisions`; other states dropped.

    `decisions` has an `outcome` column (the case's state).
    """
    kept = decisions.loc[decisions["outcome"].isin(list(OUTCOME_LABEL)), "outcome"]
    return kept.map(OUTCOME_LABEL).astype("int64")


def check_enough(labels: pd.Series, config: SupervisedConfig) -> None:
    """`CannotTrain` naming the counts when the labels are too few for a model."""
    confirmed, total = int(labels.sum()), len(labels)
    dismissed = total - confirmed
    if total < config.min_labels:
        raise CannotTrain(f"risk-supervised: {total} decided case(s), at least "
                          f"{config.min_labels} needed (min_labels)")
    if min(confirmed, dismissed) < config.min_per_class:
        raise CannotTrain(f"risk-supervised: {confirmed} confirmed and {dismissed} dismissed "
                          f"case(s), at least {config.min_per_class} of each needed "
                          "(min_per_class)")


def fit_supervised(features: pd.DataFrame, labels: pd.Series,
                   config: SupervisedConfig = SupervisedConfig()) -> lgb.Booster:
    """A binary LightGBM booster (its `predict` is P(fraud)); `CannotTrain` below the minimum."""
    check_enough(labels, config)
    params = {"objective": "binary", "learning_rate": config.learning_rate,
              "num_leaves": config.num_leaves, "min_data_in_leaf": config.min_data_in_leaf,
              "feature_fraction": 0.8, "bagging_fraction": 0.8, "bagging_freq": 1,
              "seed": config.seed, "deterministic": True, "num_threads": 1, "verbose": -1}
    data = lgb.Dataset(features.astype("float64"), label=labels.to_numpy(),
                       free_raw_data=False)
    return lgb.train(params, data, num_boost_round=config.num_boost_round)


def out_of_time_split(decided_at: pd.Series, holdout_share: float) -> np.ndarray:
    """True for the most recently decided `holdout_share` of the cases (ties: later rows)."""
    order = np.argsort(pd.to_datetime(decided_at, utc=True).to_numpy(), kind="stable")
    held = np.zeros(len(decided_at), dtype=bool)
    count = max(1, math.ceil(holdout_share * len(decided_at)))
    held[order[len(order) - count:]] = True
    return held


def train(settings: TrainingSettings, features: pd.DataFrame, decisions: pd.DataFrame,
          config: SupervisedConfig = SupervisedConfig()) -> TrainOutcome:
    """Fit on the earlier decided cases, score the later ones, log, register and gate.

    `features` (`supervised_features` rows) and `decisions` (`outcome`, `decided_at`) are aligned
    row by row. `CannotTrain` when the labels, or either side of the time split, are too few.
    """
    labels = decision_labels(decisions)
    check_enough(labels, config)
    rows = features.loc[labels.index]
    held = out_of_time_split(decisions.loc[labels.index, "decided_at"], config.holdout_share)
    later_x, later_y = rows.loc[held], labels.loc[held].to_numpy()
    if later_y.min() == later_y.max():
        raise CannotTrain(f"risk-supervised: the latest {len(later_y)} decided case(s) are all "
                          f"{'confirmed' if later_y[0] else 'dismissed'}: no out-of-time score "
                          "for the gate (decide more cases of both outcomes)")
    model = fit_supervised(rows.loc[~held], labels.loc[~held], config)
    later_p = np.asarray(model.predict(later_x), dtype="float64")
    metrics = {"pr_auc": pr_auc(later_p, later_y),
               "precision_top_10pct": precision_top(later_p, later_y, 0.1),
               "labels": float(len(labels)), "confirmed": float(labels.sum()),
               "holdout": float(held.sum())}

    def score_champion(uri: str) -> float:
        champion = mlflow.pyfunc.load_model(uri)
        return pr_auc(np.asarray(champion.predict(later_x)).reshape(-1), later_y)

    with mlflow.start_run(run_name=f"{NAME}-{len(labels)}-labels") as run:
        _log_run(model, rows.loc[~held], labels, config, metrics)
    decision = register_and_gate(run.info.run_id, "model", NAME, "pr_auc", metrics["pr_auc"],
                                 score_champion)
    return TrainOutcome(NAME, run.info.run_id, decision, metrics)


def _log_run(model: lgb.Booster, train_x: pd.DataFrame, labels: pd.Series,
             config: SupervisedConfig, metrics: dict[str, float]) -> None:
    mlflow.log_params({k: getattr(config, k) for k in config.__dataclass_fields__})
    mlflow.set_tag("data_fingerprint",
                   data_fingerprint(train_x.assign(label=labels.loc[train_x.index])))
    mlflow.log_metrics({k: v for k, v in metrics.items() if not math.isnan(v)})
    example = train_x.head(5)
    mlflow.lightgbm.log_model(model, name="model", input_example=example,
                              signature=infer_signature(example, model.predict(example)))
    log_model_card(
        model_name=NAME,
        purpose="Rank promoters by the probability that a case about them is confirmed as "
                "fraud, learned from the risk team's confirmed and dismissed cases; joins the "
                "anomaly score in the periodic risk scan.",
        data={"labels": int(metrics["labels"]), "confirmed": int(metrics["confirmed"]),
              "holdout (most recent decisions)": int(metrics["holdout"])},
        features=list(train_x.columns), metrics=metrics,
        limits=["Learned from reviewed cases only: promoters no rule or model flagged have no "
                "label, so the model knows flagged-looking fraud best.",
                "Few labels on a young mall: the PR-AUC of a small holdout is noisy.",
                "A score is a ranking for review, never a reason to hold money on its own."])


MAX_CASE_INSTANTS = 50  # distinct case-opening instants read back (one book read each)


def decided_cases(settings: TrainingSettings) -> pd.DataFrame:
    """The confirmed and dismissed cases of the books (`settlement.risk_cases`, at most its
    `MAX_LISTED`): promoter_id, outcome, opened_at, decided_at."""
    from settlement.risk_cases import MAX_LISTED, list_cases
    from settlement.risk_domain import CaseStatus

    engine = create_db_engine(settings.database_url)
    try:
        with engine.connect() as conn:
            cases = list_cases(conn, [CaseStatus.CONFIRMED, CaseStatus.DISMISSED], MAX_LISTED)
    finally:
        engine.dispose()
    return pd.DataFrame(
        [(c.promoter_id, c.status, pd.Timestamp(c.opened_at), pd.Timestamp(c.decided_at))
         for c in cases], columns=["promoter_id", "outcome", "opened_at", "decided_at"])


def case_features(settings: TrainingSettings, cases: pd.DataFrame) -> pd.DataFrame:
    """Each case's `supervised_features` row as of the instant it was opened (what the scan saw
    then, never what came to light later); the most recent `MAX_CASE_INSTANTS` instants."""
    instants = sorted(cases["opened_at"].unique())
    if len(instants) > MAX_CASE_INSTANTS:
        raise CannotTrain(f"risk-supervised: cases opened at {len(instants)} instants, at most "
                          f"{MAX_CASE_INSTANTS} are read back (MAX_CASE_INSTANTS)")
    engine = create_db_engine(settings.database_url)
    rows = []
    try:
        for instant in instants:
            at = as_utc(instant)
            frames = restrict_to(load_raw_frames(engine, at.to_pydatetime()), at)
            profiles = build_profiles(frames, at)
            features = supervised_features(profiles, run_rules(frames, at))
            features.index = profiles["promoter_id"].to_numpy()
            wanted = cases.loc[cases["opened_at"] == instant, "promoter_id"]
            rows.append(features.reindex(wanted.to_numpy()).fillna(0.0))
    finally:
        engine.dispose()
    return pd.concat(rows).loc[cases["promoter_id"].to_numpy()].reset_index(drop=True)


def train_from_cases(settings: TrainingSettings,
                     config: SupervisedConfig = SupervisedConfig()) -> TrainOutcome:
    """`fenrun risk train`: the decided cases of the books -> `train`. `CannotTrain` (naming the
    counts) below `min_labels`, before any feature is computed."""
    cases = decided_cases(settings)
    check_enough(decision_labels(cases), config)
    cases = cases.sort_values(["opened_at", "promoter_id"], ignore_index=True)
    return train(settings, case_features(settings, cases), cases, config)
