"""`fenrun risk evaluate`: simulate malls, settle them, scan, and score the scan against the labels.

Per seed: simulate `days` of a mall (`features.simulator`), settle it into a scratch SQLite book
through `settlement.ingest` (the use case `fenrun settle` calls), read the books as of the last
event through the read model, fit the anomaly detector on those profiles (unsupervised: no label is
used), scan (`features.risk_score.score_promoters`: rules + model) and judge the score
(`training.risk_metrics`) against the simulator's `labels.csv`:

- `pr_auc`, `precision_top_1pct`, `recall_at_1pct_fpr` per fraud type, `rings_caught_share`
  (flagged = above the 1 %-FPR threshold);
- `fraud_commission_caught_share`: the fraudsters' net commission on promoters the scan *holds*
  (a rule with evidence; the models alone hold nobody), and `honest_unpaid_held_share`: the
  honest promoters' unpaid commission (pending + available) on held promoters — the whole unpaid
  balance counts, an upper bound on what a proportionate hold would keep.

The scan runs once at the end with the velocity and click-spam windows stretched over the whole
period: the same flags as a daily scan whose flags stay open as cases.

Supervised, out of time: at `cutoff_share` of the period the same scan runs on the books as of
then; the cases a team would decide (every held promoter and the top `review_share` by score)
are decided by the simulator's labels — *simulated decisions*, the stand-in for a real case
history — and a LightGBM model is fitted on them when there are enough
(`training.risk_supervised`). At the end it joins the anomaly score, and both scans are compared on
the promoters not decided before the cutoff (new fraud, unseen by the labels).
"""

from __future__ import annotations

import csv
import math
import tempfile
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from features.profiles.domain import RawFrames, restrict_to
from features.profiles.repository import load_raw_frames
from features.profiles.service import build_profiles
from features.risk_rules import DEFAULT_CONFIG, RiskRuleConfig, run_rules
from features.risk_score import (
    DEFAULT_SCORE_CONFIG,
    RiskScoreConfig,
    ScanModels,
    score_promoters,
    supervised_features,
)
from features.simulator import SimulationConfig, simulate
from features.simulator.config import FRAUD_TYPES, FraudRates
from settlement.db import create_db_engine, upgrade
from settlement.ingest import settle_file
from settlement.plan import parse_plan_text
from settlement.plan_store import store_versions
from settlement.read_model import books_currencies, last_event_at, promoter_balances
from training.anomaly import ANOMALY_FEATURES, fit_detector
from training.risk_metrics import (
    CLEAN,
    amount_share,
    pr_auc,
    precision_top,
    recall_by_type,
    rings_caught_share,
    rings_from_labels,
    threshold_at_fpr,
)
from training.risk_supervised import SupervisedConfig, fit_supervised
from training.trainers import CannotTrain

MAX_SEEDS = 100
MAX_PROMOTERS = 100_000  # a seed settles in about 5 s per 1,000 promoters on one core
SETTLE_BATCH = 2_000


@dataclass(frozen=True)
class RiskEvaluationRequest:
    """What to simulate and how to judge it; the defaults are `make bench`'s standard setting."""

    promoters: int = 2_000
    seeds: tuple[int, ...] = (201, 202, 203)
    days: int = 120
    fraud: FraudRates = field(default_factory=FraudRates)
    stealth: float = 0.0  # share of fraudsters who hide (`SimulationConfig.fraud_stealth`)
    fpr: float = 0.01  # the operating point recall is measured at
    top_share: float = 0.01  # precision among the top share of promoters
    cutoff_share: float = 0.5  # simulated decisions are made at this point of the period
    review_share: float = 0.05  # beyond the held promoters, the top share the team reviews
    detector_seed: int = 42
    rules: RiskRuleConfig = DEFAULT_CONFIG
    score: RiskScoreConfig = DEFAULT_SCORE_CONFIG
    supervised: SupervisedConfig = field(default_factory=SupervisedConfig)

    def __post_init__(self) -> None:
        if not 1 <= len(self.seeds) <= MAX_SEEDS:
            raise ValueError(f"seeds: {len(self.seeds)} seeds, 1..{MAX_SEEDS} allowed")
        if not 100 <= self.promoters <= MAX_PROMOTERS:
            raise ValueError(f"promoters: {self.promoters} is outside 100..{MAX_PROMOTERS}")
        if not 30 <= self.days <= 366:
            raise ValueError(f"days: {self.days} is outside 30..366")
        for name in ("fpr", "top_share", "cutoff_share", "review_share"):
            value = getattr(self, name)
            if not 0.0 < value < 1.0:
                raise ValueError(f"{name}: {value!r} must be in (0, 1)")
        SimulationConfig(promoters=self.promoters, days=self.days, fraud=self.fraud,
                         fraud_stealth=self.stealth)


@dataclass(frozen=True)
class SettledMall:
    """One simulated mall as its books know it at the last event, with the simulator's truth."""

    frames: RawFrames
    start: pd.Timestamp
    as_of: pd.Timestamp
    labels: dict[str, str]
    unpaid_minor: dict[str, int]


def _labels(path: Path) -> dict[str, str]:
    with path.open(encoding="utf-8") as handle:
        return {row["entity_id"]: row["fraud_type"] for row in csv.DictReader(handle)
                if row["entity_type"] == "promoter"}


def settle_mall(folder: Path, config: SimulationConfig) -> SettledMall:
    """Simulate into `folder`, settle into a SQLite book there, read it back as of the end."""
    simulate(folder, config)
    engine = create_db_engine(f"sqlite:///{folder / 'books.db'}")
    try:
        upgrade(engine)
        with engine.begin() as conn:
            store_versions(conn, parse_plan_text((folder / "plan.yaml").read_text()))
        settle_file(engine, folder / "events.jsonl", SETTLE_BATCH)
        with engine.connect() as conn:
            last_at = last_event_at(conn)
            if last_at is None:
                raise ValueError(f"seed {config.seed}: the simulated events left no trace")
            balances = promoter_balances(conn, books_currencies(conn)[0])
        frames = load_raw_frames(engine, last_at)
    finally:
        engine.dispose()
    as_of = pd.Timestamp(last_at).tz_convert("UTC")
    unpaid = {p: b.pending_minor + b.available_minor for p, b in balances.items()}
    return SettledMall(restrict_to(frames, as_of), pd.Timestamp(config.start_utc), as_of,
                       _labels(folder / "labels.csv"), unpaid)


def whole_period_rules(config: RiskRuleConfig, days: int) -> RiskRuleConfig:
    """Velocity and click-spam windows over the whole period (a daily scan's flags, kept open)."""
    return replace(config, velocity_scan_h=days * 24 + 24, click_window_d=days + 1)


def scan_at(frames: RawFrames, as_of: pd.Timestamp, request: RiskEvaluationRequest,
            days: int, supervised: Any = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(scored promoters, supervised feature rows in the same order) as of `as_of`."""
    at_frames = restrict_to(frames, as_of)
    profiles = build_profiles(at_frames, as_of)
    rules = whole_period_rules(request.rules, days)
    flags = run_rules(at_frames, as_of, rules)
    detector = fit_detector(profiles[list(ANOMALY_FEATURES)], request.detector_seed)
    scored = score_promoters(at_frames, as_of, ScanModels(detector, supervised), rules,
                             request.score, profiles=profiles, flags=flags)
    features = supervised_features(profiles, flags, request.score)
    features.index = profiles["promoter_id"].to_numpy()
    return scored, features.loc[scored["promoter_id"].to_numpy()]


def ranking_metrics(scored: pd.DataFrame, labels: dict[str, str], request: RiskEvaluationRequest
                    ) -> tuple[dict[str, Any], set[str]]:
    """PR-AUC, precision at the top share, recall per type at the FPR: and who is flagged there."""
    kinds = scored["promoter_id"].map(labels).fillna(CLEAN).to_numpy()
    scores = scored["score"].to_numpy()
    is_fraud = kinds != CLEAN
    threshold = threshold_at_fpr(scores, ~is_fraud, request.fpr)
    recall = recall_by_type(scores, kinds, threshold)
    metrics = {
        "pr_auc": pr_auc(scores, is_fraud),
        "precision_top_1pct": precision_top(scores, is_fraud, request.top_share),
        "recall_at_1pct_fpr": {k: recall.get(k, math.nan) for k in FRAUD_TYPES},
    }
    flagged = set(scored.loc[scores > threshold, "promoter_id"])
    return metrics, flagged


def _net_commission(frames: RawFrames) -> dict[str, int]:
    net = frames.commissions.groupby("promoter_id")["amount_minor"].sum()
    return {str(p): int(v) for p, v in net.items()}


def _ablation(scored: pd.DataFrame, labels: dict[str, str]) -> dict[str, float]:
    """PR-AUC of each part alone: what the combination adds over rules or the model."""
    is_fraud = scored["promoter_id"].map(labels).fillna(CLEAN).to_numpy() != CLEAN
    return {"pr_auc_rules_only": pr_auc(scored["rule_score"].to_numpy(), is_fraud),
            "pr_auc_anomaly_only": pr_auc(scored["anomaly_score"].to_numpy(), is_fraud)}


def evaluate_seed(request: RiskEvaluationRequest, seed: int, folder: Path) -> dict[str, Any]:
    """Every metric of one seed (module doc), as a JSON-able dict."""
    began = time.perf_counter()
    config = SimulationConfig(promoters=request.promoters, days=request.days, seed=seed,
                              fraud=request.fraud, fraud_stealth=request.stealth)
    mall = settle_mall(folder, config)
    scored, _ = scan_at(mall.frames, mall.as_of, request, request.days)
    metrics, flagged = ranking_metrics(scored, mall.labels, request)
    ids = set(scored["promoter_id"])
    honest = {p for p in ids if mall.labels.get(p, CLEAN) == CLEAN}
    held = set(scored.loc[scored["held"], "promoter_id"])
    rings = rings_from_labels(mall.frames.promoters, mall.labels)
    counts = pd.Series([mall.labels.get(p, CLEAN) for p in ids]).value_counts()
    return {
        "seed": seed, **metrics,
        "rings": len(rings),
        "rings_caught_share": rings_caught_share(rings, flagged),
        "fraud_commission_caught_share": amount_share(
            _net_commission(mall.frames), held, ids - honest),
        "honest_unpaid_held_share": amount_share(mall.unpaid_minor, held, honest),
        "promoters": len(ids),
        "fraud_promoters": {k: int(counts.get(k, 0)) for k in FRAUD_TYPES},
        "held_promoters": len(held), "honest_held_promoters": len(held & honest),
        "flagged_at_1pct_fpr": len(flagged),
        **_ablation(scored, mall.labels),
        "supervised": supervised_out_of_time(mall, scored, request),
        "seconds": round(time.perf_counter() - began, 1),
    }


def supervised_out_of_time(mall: SettledMall, end_scan: pd.DataFrame,
                           request: RiskEvaluationRequest) -> dict[str, Any]:
    """Fit on simulated decisions at the cutoff, compare the end scans with and without it on
    the promoters not decided then."""
    cutoff_days = max(1, round(request.cutoff_share * request.days))
    cutoff = mall.start + pd.Timedelta(days=cutoff_days)
    cut_scan, cut_features = scan_at(mall.frames, cutoff, request, cutoff_days)
    review = max(1, math.ceil(request.review_share * len(cut_scan)))
    decided = cut_scan.loc[cut_scan["held"] | (cut_scan["rank"] <= review), "promoter_id"]
    labels = pd.Series([int(mall.labels.get(p, CLEAN) != CLEAN) for p in decided],
                       index=decided.to_numpy())
    out: dict[str, Any] = {"cutoff_day": cutoff_days, "decided_cases": len(labels),
                           "confirmed": int(labels.sum()),
                           "decisions": "simulated from the simulator's labels at the cutoff"}
    try:
        model = fit_supervised(cut_features.loc[labels.index], labels, request.supervised)
    except CannotTrain as reason:
        return {**out, "trained": False, "reason": str(reason)}
    with_model, _ = scan_at(mall.frames, mall.as_of, request, request.days, model)
    unseen = set(end_scan["promoter_id"]) - set(labels.index)
    without = end_scan.loc[end_scan["promoter_id"].isin(unseen)]
    joined = with_model.loc[with_model["promoter_id"].isin(unseen)]
    before, _ = ranking_metrics(without, mall.labels, request)
    after, _ = ranking_metrics(joined, mall.labels, request)
    fraud_unseen = sum(1 for p in unseen if mall.labels.get(p, CLEAN) != CLEAN)
    return {**out, "trained": True, "evaluated_promoters": len(unseen),
            "evaluated_fraud": fraud_unseen, "without": before, "with": after,
            "pr_auc_gain": after["pr_auc"] - before["pr_auc"]}


def _mean(values: list[float]) -> float:
    kept = [v for v in values if v is not None and not math.isnan(v)]
    return float(np.mean(kept)) if kept else math.nan


def summarise(seeds: list[dict[str, Any]]) -> dict[str, Any]:
    """Means over seeds (NaN-skipping) of the headline metrics, and the worst seed's of each."""
    keys = ("pr_auc", "precision_top_1pct", "rings_caught_share",
            "fraud_commission_caught_share", "honest_unpaid_held_share")
    mean: dict[str, Any] = {k: _mean([s[k] for s in seeds]) for k in keys}
    mean["recall_at_1pct_fpr"] = {k: _mean([s["recall_at_1pct_fpr"][k] for s in seeds])
                                  for k in FRAUD_TYPES}
    trained = [s["supervised"] for s in seeds if s["supervised"].get("trained")]
    mean["supervised_pr_auc_gain"] = _mean([s["pr_auc_gain"] for s in trained])
    mean["supervised_trained_seeds"] = len(trained)
    worst = {k: min((s[k] for s in seeds if not math.isnan(s[k])), default=math.nan)
             for k in keys if k != "honest_unpaid_held_share"}
    worst["honest_unpaid_held_share"] = max(
        (s["honest_unpaid_held_share"] for s in seeds
         if not math.isnan(s["honest_unpaid_held_share"])), default=math.nan)
    return {"mean": mean, "worst": worst}


def evaluate(request: RiskEvaluationRequest) -> dict[str, Any]:
    """Every seed of the request, their means and worst values, and the settings used."""
    began = time.perf_counter()
    seeds = []
    for seed in request.seeds:
        with tempfile.TemporaryDirectory(prefix=f"fenrun-risk-{seed}-") as folder:
            seeds.append(evaluate_seed(request, seed, Path(folder)))
    settings = {"promoters": request.promoters, "days": request.days,
                "seeds": list(request.seeds), "fraud_rates": request.fraud.as_dict(),
                "stealth": request.stealth,
                "fpr": request.fpr, "top_share": request.top_share,
                "cutoff_share": request.cutoff_share, "review_share": request.review_share,
                "model_weight": request.score.model_weight,
                "hold_min_rule_score": request.score.hold_min_rule_score,
                "min_labels": request.supervised.min_labels}
    return {"seeds": seeds, **summarise(seeds), "settings": settings,
            "seconds": round(time.perf_counter() - began, 1)}


def request_settings(request: RiskEvaluationRequest) -> dict[str, Any]:
    """The request as flat MLflow parameters."""
    flat = {"promoters": request.promoters, "days": request.days,
            "seeds": ",".join(map(str, request.seeds)), "fpr": request.fpr,
            "stealth": request.stealth}
    flat.update({f"fraud_{k}": v for k, v in asdict(request.fraud).items()})
    return flat
