"""One promoter risk score from the explainable rules and the models (issue 14), with its reasons.

Why this shape: a rule flag comes with evidence a person can check, a model score does not. So the
rules carry most of the score and the models rank *within* the promoters the rules flag and
*among* the rest:

    rule_score  = 1 - Π (1 - confidence of each flag)       (noisy-OR over the promoter's flags)
    model_score = percentile of the anomaly score in the population, averaged with the
                  percentile of the supervised model's probability when one is given
    score       = (1 - model_weight) · rule_score + model_weight · model_score

With the default weights one fraud-rule flag (confidence ≥ 0.6) puts a promoter above everyone
without a flag (0.8 · 0.6 = 0.48 > 0.2), and the commission cap (a policy limit, not a fraud
signal: confidence 0.1) does not. A promoter is `held` only for a readable reason: its
`rule_score` reaches `hold_min_rule_score`; the models alone never hold anyone's money (the
issue's honest top earners were held on a score alone).

Pure functions over frames: the models are anything with the `Detector` / `Classifier` protocol,
so training (fresh fits, evaluation) and serving (champions) combine scores the same way.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import pandas as pd

from features.outliers import Detector, anomaly_scores, reasons
from features.profiles.domain import FEATURE_COLUMNS, RawFrames
from features.profiles.service import build_profiles
from features.risk_rules import DEFAULT_CONFIG, RULES, RiskRuleConfig, run_rules

# Confidence of one flag by rule and severity: a prior for how often such a flag turns out to be
# fraud, written by judgement before any evaluation run and not fitted to any seed (the rules
# flagged 0 of 5,790 honest promoters on seeds 21-23); the cap is a policy limit and weighs little.
# Once cases are decided, the supervised model learns what a flag is really worth.
DEFAULT_CONFIDENCE: dict[str, dict[str, float]] = {
    "self_referral": {"low": 0.6, "medium": 0.85, "high": 0.95},
    "device_farm": {"low": 0.6, "medium": 0.85, "high": 0.95},
    "ip_farm": {"low": 0.5, "medium": 0.7, "high": 0.85},
    "velocity": {"low": 0.6, "medium": 0.8, "high": 0.9},
    "refund_after_release": {"low": 0.6, "medium": 0.8, "high": 0.9},
    "referral_ring": {"low": 0.8, "medium": 0.9, "high": 0.95},
    "click_spam": {"low": 0.6, "medium": 0.8, "high": 0.9},
    "commission_cap": {"low": 0.05, "medium": 0.1, "high": 0.2},
}
SCORE_COLUMNS = ("promoter_id", "as_of", "score", "rank", "held", "rule_score", "rules",
                 "anomaly_score", "anomaly_pct", "supervised_probability", "model_score",
                 "flags", "model_reasons")
RULE_FEATURE_PREFIX = "rule_"


class Classifier(Protocol):
    """A fitted binary model whose `predict` returns P(fraud) per row (a LightGBM Booster, or
    its MLflow pyfunc)."""

    def predict(self, data: pd.DataFrame) -> Any: ...


@dataclass(frozen=True)
class RiskScoreConfig:
    """How rule flags and model scores combine; every weight in [0, 1]."""

    model_weight: float = 0.2  # share of the score the models carry
    hold_min_rule_score: float = 0.5  # a readable reason this strong holds the unpaid money
    confidence: Mapping[str, Mapping[str, float]] = field(
        default_factory=lambda: DEFAULT_CONFIDENCE)

    def __post_init__(self) -> None:
        if not 0.0 <= self.model_weight < 1.0:
            raise ValueError(f"model_weight: {self.model_weight!r} must be in [0, 1)")
        if not 0.0 < self.hold_min_rule_score <= 1.0:
            raise ValueError(
                f"hold_min_rule_score: {self.hold_min_rule_score!r} must be in (0, 1]")
        for rule, by_severity in self.confidence.items():
            for severity, value in by_severity.items():
                if not 0.0 <= value < 1.0:
                    raise ValueError(f"confidence.{rule}.{severity}: {value!r} must be in [0, 1)")


DEFAULT_SCORE_CONFIG = RiskScoreConfig()


def flag_confidence(flags: pd.DataFrame, config: RiskScoreConfig = DEFAULT_SCORE_CONFIG
                    ) -> pd.Series:
    """The confidence of each flag row (`FLAG_COLUMNS`); `ValueError` naming an unknown rule."""
    values = []
    for rule, severity in zip(flags["rule"], flags["severity"], strict=True):
        if rule not in config.confidence or severity not in config.confidence[rule]:
            raise ValueError(f"flags.rule: no confidence for {rule!r} at severity {severity!r}")
        values.append(float(config.confidence[rule][severity]))
    return pd.Series(values, index=flags.index, dtype="float64")


def rule_scores(flags: pd.DataFrame, promoter_ids: pd.Series,
                config: RiskScoreConfig = DEFAULT_SCORE_CONFIG) -> pd.Series:
    """Noisy-OR of each promoter's flag confidences (0 without a flag), indexed by promoter."""
    index = pd.Index(promoter_ids, name="promoter_id")
    if flags.empty:
        return pd.Series(0.0, index=index)
    miss = 1.0 - flag_confidence(flags, config)
    kept = miss.groupby(flags["promoter_id"].to_numpy()).prod()
    return (1.0 - kept).reindex(index, fill_value=0.0)


def rule_features(flags: pd.DataFrame, promoter_ids: pd.Series,
                  config: RiskScoreConfig = DEFAULT_SCORE_CONFIG) -> pd.DataFrame:
    """One column per rule (`rule_<name>`): the confidence of the promoter's flag, 0 without."""
    index = pd.Index(promoter_ids, name="promoter_id")
    columns = [f"{RULE_FEATURE_PREFIX}{name}" for name in RULES]
    if flags.empty:
        return pd.DataFrame(0.0, index=index, columns=columns)
    table = flags.assign(confidence=flag_confidence(flags, config)).pivot_table(
        index="promoter_id", columns="rule", values="confidence", aggfunc="max")
    table = table.reindex(index=index, columns=list(RULES)).fillna(0.0)
    table.columns = columns
    return table


def supervised_features(profiles: pd.DataFrame, flags: pd.DataFrame,
                        config: RiskScoreConfig = DEFAULT_SCORE_CONFIG) -> pd.DataFrame:
    """What the supervised model sees: the profile features and the rule confidences, by row of
    `profiles` (the columns are fixed, so a model trained on one mall scores another)."""
    rules = rule_features(flags, profiles["promoter_id"], config)
    out = profiles.loc[:, list(FEATURE_COLUMNS)].reset_index(drop=True)
    return pd.concat([out, rules.reset_index(drop=True)], axis=1).astype("float64")


def percentile(values: np.ndarray) -> np.ndarray:
    """Average rank / n in (0, 1]: scale-free, ties share their rank, the highest is 1."""
    if len(values) == 0:
        return np.zeros(0)
    return np.asarray(pd.Series(values).rank(method="average").to_numpy() / len(values))


def combine(rule_score: np.ndarray, anomaly_pct: np.ndarray,
            supervised_pct: np.ndarray | None = None,
            config: RiskScoreConfig = DEFAULT_SCORE_CONFIG) -> np.ndarray:
    """The score from its parts (module doc): rules carry `1 - model_weight` of it."""
    model = anomaly_pct if supervised_pct is None else (anomaly_pct + supervised_pct) / 2.0
    return (1.0 - config.model_weight) * rule_score + config.model_weight * model


def _flags_json(flags: pd.DataFrame, promoter_ids: pd.Series) -> list[str]:
    """Per promoter, its flags `[{rule, severity, evidence}]` as JSON, strongest rule first."""
    grouped: dict[str, list[dict[str, Any]]] = {}
    order = {s: i for i, s in enumerate(("high", "medium", "low"))}
    for row in flags.itertuples(index=False):
        grouped.setdefault(str(row.promoter_id), []).append(
            {"rule": row.rule, "severity": row.severity, "evidence": row.evidence})
    return [json.dumps(sorted(grouped.get(str(p), []),
                              key=lambda f: (order[f["severity"]], f["rule"])), default=str)
            for p in promoter_ids]


@dataclass(frozen=True)
class ScanModels:
    """The models a scan combines with the rules: the anomaly detector and, once labels from
    decided cases allowed one, the supervised classifier."""

    detector: Detector
    supervised: Classifier | None = None


def score_promoters(frames: RawFrames, as_of: pd.Timestamp, models: ScanModels,
                    rule_config: RiskRuleConfig = DEFAULT_CONFIG,
                    config: RiskScoreConfig = DEFAULT_SCORE_CONFIG,
                    profiles: pd.DataFrame | None = None,
                    flags: pd.DataFrame | None = None) -> pd.DataFrame:
    """Every promoter of `frames` (already restricted to `as_of`) scored: `SCORE_COLUMNS`,
    highest score first (rank 1; ties by promoter id), each with its flags and evidence.

    `profiles` (the `build_profiles` frame of the same frames and as-of) and `flags` (their
    `run_rules` frame) save recomputing them.
    `ValueError` when nobody had joined by `as_of`.
    """
    if profiles is None:
        profiles = build_profiles(frames, as_of)
    if profiles.empty:
        raise ValueError(f"as_of: no promoter had joined by {as_of.isoformat()}")
    if flags is None:
        flags = run_rules(frames, as_of, rule_config)
    ids = profiles["promoter_id"]
    rule = rule_scores(flags, ids, config).to_numpy()
    anomaly = anomaly_scores(models.detector, profiles)
    anomaly_pct = percentile(anomaly)
    probability = np.full(len(ids), np.nan)
    supervised_pct = None
    if models.supervised is not None:
        probability = np.asarray(models.supervised.predict(
            supervised_features(profiles, flags, config)), dtype="float64").reshape(-1)
        supervised_pct = percentile(probability)
    model = anomaly_pct if supervised_pct is None else (anomaly_pct + supervised_pct) / 2.0
    score = combine(rule, anomaly_pct, supervised_pct, config)
    names = list(models.detector.feature_names_in_)
    out = pd.DataFrame({
        "promoter_id": ids.to_numpy(), "as_of": as_of, "score": score, "rank": 0,
        "held": rule >= config.hold_min_rule_score, "rule_score": rule,
        "rules": _rule_names(flags, ids), "anomaly_score": anomaly, "anomaly_pct": anomaly_pct,
        "supervised_probability": probability, "model_score": model,
        "flags": _flags_json(flags, ids),
        "model_reasons": reasons(profiles[names], np.ones(len(ids), dtype=bool)),
    })
    out = out.sort_values(["score", "promoter_id"], ascending=[False, True], ignore_index=True)
    out["rank"] = np.arange(1, len(out) + 1)
    return out.loc[:, list(SCORE_COLUMNS)]


def _rule_names(flags: pd.DataFrame, promoter_ids: pd.Series) -> list[str]:
    """"self_referral; velocity" per promoter ("" without a flag)."""
    if flags.empty:
        return [""] * len(promoter_ids)
    names = flags.groupby("promoter_id")["rule"].agg(lambda r: "; ".join(sorted(set(r))))
    return [str(names.get(p, "")) for p in promoter_ids]
