"""Train, log and gate `fenrun-ltv`: one MLflow run per training, champion only if it earns it.

Gate, in order (the rule that decided is logged on the run and the model version):
1. The candidate must beat BG/NBD + Gamma-Gamma on the out-of-time holdout on every quality-bar
   metric (normalised Gini, decile MAPE, aggregate error). If it does not, the version is
   registered as `challenger` and is never champion, whatever the current champion scores.
   Exception: a candidate that *is* BG/NBD because the history allows nothing better (too short
   or too few customers for boosting: `LtvEvaluation.fallback`) cannot beat itself; it skips this
   step, its model card states that basis, and step 2 judges it like any other.
2. Then `training.registry.register_and_gate` compares it with the current champion on the same
   holdout (normalised Gini, the ranking quality the growth team acts on): strictly better →
   `champion`, else `challenger`.

When a booster loses step 1 and there is no champion at all, BG/NBD is the best model the
history supports, and promoter value needs some champion: `train_ltv` then also registers BG/NBD
alone (a second run, fallback basis "the booster did not beat it") through step 2.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import asdict, dataclass, replace
from datetime import datetime

import mlflow
import numpy as np
import pandas as pd
from mlflow.models import infer_signature
from mlflow.tracking import MlflowClient

from settlement.db import create_db_engine
from training.config import TrainingSettings
from training.ltv.calendar import NO_CALENDAR, PromotionCalendar, load_calendar
from training.ltv.config import LtvSettings
from training.ltv.evaluation import BGNBD, LtvEvaluation, candidate_metrics, evaluate_plan
from training.ltv.features import FEATURES
from training.ltv.history import History, load_history
from training.ltv.metrics import beats, format_table, normalized_gini
from training.ltv.model import MODEL_FEATURES, LtvParams
from training.ltv.pyfunc import AS_OF, LtvPyfunc, predict_with
from training.ltv.windows import books_end, plan_evaluation, plan_training
from training.registry import (
    CHALLENGER,
    GateDecision,
    configure_tracking,
    current_champion,
    data_fingerprint,
    log_model_card,
    register_and_gate,
    registered_name,
    same_as_registered,
    unchanged_decision,
)
from training.trainers import TrainOutcome

log = logging.getLogger(__name__)
MODEL_NAME = "ltv"
ARTIFACT_PATH = "model"
GATE_METRIC = "gini"
DEFAULT_HORIZON_DAYS = 90
INPUT_EXAMPLE_ROWS = 5


@dataclass(frozen=True)
class LtvTrainingResult:
    run_id: str
    evaluation: LtvEvaluation
    decision: GateDecision
    table: str
    # The booster run that lost to BG/NBD when this result is the BG/NBD run that followed it.
    booster: LtvTrainingResult | None = None


def default_cutoff(history: History, horizon_days: int) -> pd.Timestamp:
    """Latest cutoff whose evaluation window is complete (midnight UTC, h days before the end)."""
    return books_end(history) - pd.Timedelta(days=horizon_days)


def _score_champion(result: LtvEvaluation):
    held = result.split.evaluation.frame

    def score(model_uri: str) -> float:
        try:
            champion = mlflow.pyfunc.load_model(model_uri)
            predicted = predict_with(champion, held).to_numpy()
        except Exception as error:  # noqa: BLE001 - an unloadable champion cannot defend its title
            log.warning("champion %s cannot score the holdout (%s): treated as NaN", model_uri,
                        error)
            return math.nan
        return normalized_gini(held["actual_minor"].to_numpy(), predicted)

    return score


def _register_as_challenger(run_id: str, rule: str, score: float) -> GateDecision:
    """Register the version without ever considering it for champion (it lost to BG/NBD)."""
    name = registered_name(MODEL_NAME)
    client = MlflowClient()
    twin = same_as_registered(client, name, run_id)
    if twin is not None:  # the same data and parameters: the same model, registered once
        return unchanged_decision(client, run_id, name, GATE_METRIC, score, *twin)
    version = mlflow.register_model(f"runs:/{run_id}/{ARTIFACT_PATH}", name)
    client.set_registered_model_alias(name, CHALLENGER, version.version)
    client.set_model_version_tag(name, version.version, "gate.rule", rule)
    client.set_tag(run_id, "gate.alias", CHALLENGER)
    client.set_tag(run_id, "gate.rule", rule)
    client.set_tag(run_id, "gate.metric", GATE_METRIC)
    return GateDecision(promoted=False, alias=CHALLENGER, model_name=name,
                        version=str(version.version), metric=GATE_METRIC, candidate=score,
                        champion=None, rule=rule)


def gate(result: LtvEvaluation, run_id: str) -> GateDecision:
    """Apply the two-step gate of the module docstring and return the decision."""
    candidate, baseline = candidate_metrics(result), result.metrics[BGNBD]
    if result.fallback:
        mlflow.set_tag("gate.bgnbd_rule", f"the candidate is BG/NBD alone, the best model this "
                       f"history supports ({result.fallback}): judged against the champion only")
    elif not beats(candidate, baseline):
        detail = ", ".join(f"{k} {candidate[k]:.4g} vs {baseline[k]:.4g}"
                           for k in ("gini", "decile_mape", "aggregate_error"))
        rule = ("candidate does not beat BG/NBD on every quality-bar metric of the same holdout "
                f"({detail}): never champion, kept challenger")
        return _register_as_challenger(run_id, rule, candidate[GATE_METRIC])
    mlflow.set_tag("gate.bgnbd_rule", "candidate beats BG/NBD on gini, decile_mape and "
                   "aggregate_error of the same holdout: eligible for champion")
    return register_and_gate(run_id, ARTIFACT_PATH, MODEL_NAME, GATE_METRIC,
                             candidate[GATE_METRIC], _score_champion(result))


def _calendar_params(result: LtvEvaluation) -> dict[str, str | int]:
    """What the calendar level rests on: zone, promotion days, multipliers estimated by cutoff."""
    season = result.model.seasonality
    return {"calendar_timezone": season.calendar.timezone,
            "calendar_days": len(season.calendar.days),
            "calendar_multipliers": json.dumps({"weekday": [round(w, 4) for w in season.weekday],
                                                **{k: round(v, 4)
                                                   for k, v in season.kinds.items()}})}


def _plan_params(result: LtvEvaluation) -> dict[str, str | int]:
    """The windows the run rests on: forecast horizon, label window, method and why."""
    plan = result.plan
    if plan is None:
        return {}
    return {"forecast_days": plan.horizon_days, "label_days": plan.label_days,
            "holdout_days": plan.holdout_days, "method": plan.method,
            "method_detail": plan.describe()[:500], "fallback": result.fallback[:500]}


def _log_run(result: LtvEvaluation, seed: int, params: LtvParams, history: History) -> str:
    """Params, metrics, fingerprints, feature list, model and card of one training run."""
    train, held = result.split.train, result.split.evaluation
    mlflow.log_params({
        "cutoff": held.cutoff.isoformat(), "train_cutoff": train.cutoff.isoformat(),
        "horizon_days": int(result.model.horizon_days), "kind": result.model.kind, "seed": seed,
        "currency": history.currency, "train_customers": len(train.frame),
        "holdout_customers": len(held.frame), **{f"lgb_{k}": v for k, v in asdict(params).items()},
        **_plan_params(result),
        "bgnbd": json.dumps(asdict(result.model.bg)),
        "balance": round(result.model.balance, 6),
        "recalibration": round(result.model.recalibration, 6),
        **_calendar_params(result),
    })
    mlflow.set_tags({"train_data_fingerprint": data_fingerprint(train.frame),
                     "holdout_data_fingerprint": data_fingerprint(held.frame)})
    for model, scores in result.metrics.items():
        prefix = "candidate" if model.startswith("candidate") else model
        mlflow.log_metrics({f"{prefix}_{k}": v for k, v in scores.items() if not math.isnan(v)})
    for kind, scores in result.selection.items():
        mlflow.log_metrics({f"selection_{kind}_{k}": v for k, v in scores.items()
                            if not math.isnan(v)})
    mlflow.log_metrics({k: v for k, v in result.timings_s.items()})
    mlflow.log_dict({"features": FEATURES, "model_features": MODEL_FEATURES}, "features.json")
    mlflow.log_dict(result.model.feature_importance, "feature_importance_gain.json")
    table = format_table(result.metrics)
    mlflow.log_text(table, "metrics_table.txt")
    example = held.frame[FEATURES].head(INPUT_EXAMPLE_ROWS).reset_index(drop=True)
    wrapper = LtvPyfunc(result.model)
    signature = infer_signature(example, wrapper.predict(None, example), params={AS_OF: ""})
    mlflow.pyfunc.log_model(name=ARTIFACT_PATH, python_model=wrapper, signature=signature,
                            input_example=example)
    return table


def _card(result: LtvEvaluation, history: History, params: LtvParams) -> None:
    train, held = result.split.train, result.split.evaluation
    flat = {f"{m}.{k}": v for m, s in result.metrics.items() for k, v in s.items()}
    log_model_card(
        model_name=MODEL_NAME,
        purpose=("Expected net revenue (minor units, " + history.currency + ") of each existing "
                 f"customer over the next {result.model.horizon_days:g} days, for promoter "
                 "LTV/CAC and growth decisions."),
        data={"train features as of": train.cutoff.isoformat(),
              "train labels": f"({train.cutoff.date()}, {held.cutoff.date()}]",
              "holdout features as of": held.cutoff.isoformat(),
              "holdout labels": f"({held.cutoff.date()}, {(held.cutoff + pd.Timedelta(days=held.horizon_days)).date()}]",  # noqa: E501
              "train customers": len(train.frame), "holdout customers": len(held.frame),
              "holdout buyers": int((held.labels > 0).sum())},
        features=MODEL_FEATURES, metrics=flat, params={"kind": result.model.kind,
                                                        **asdict(params)},
        limits=["Method: " + result.method, *_basis(result),
                "Predicts existing customers only (first purchase by the cutoff).",
                ("Calendar level: promotion days in the horizon lift the forecast by multipliers "
                 "estimated from the history's own promotion days; a promotion much larger than "
                 "any the books have seen is under-forecast." if not
                 result.model.seasonality.stationary else
                 "Stationary (no promotion calendar): a promotion peak inside the horizon that "
                 "the training window lacked is not foreseen (aggregate error)."),
                (f"Level recalibrated by x{result.model.recalibration:.3f}, the out-of-time "
                 "miss of the same procedure one horizon earlier; a shift in the mall that the "
                 "backtest quarter did not see is not corrected." if
                 result.model.recalibration != 1.0 else
                 "Not recalibrated: the history is too short for a backtest one horizon before "
                 "the training window."),
                "Predictions need the feature cutoff (`as_of` parameter of the pyfunc) to place "
                "the forecast window in the calendar; without it the level is stationary.",
                "One currency per model (the most common one in the books).",
                ("BG/NBD alone, eligible for champion as the best model this history supports; "
                 "a booster that beats it on Gini, decile MAPE and aggregate error replaces it."
                 if result.fallback else
                 "Never champion unless it beats BG/NBD on Gini, decile MAPE and aggregate "
                 "error.")])


def _basis(result: LtvEvaluation) -> list[str]:
    """What a forecast from a young history rests on, in the card's words."""
    lines = []
    plan = result.plan
    if plan is not None and plan.holdout_days != plan.horizon_days:
        lines.append(f"Judged on a {plan.holdout_days}-day holdout, the longest the books "
                     f"allow; the carry to {plan.horizon_days} days is not measured on this "
                     "history (see the measured carry in training/ltv/README.md).")
    if result.model.carried:
        lines.append("The carry assumes each customer keeps the purchase rate and lapse risk "
                     "BG/NBD sees at the cutoff: a promotion or a shift in the mall after the "
                     "label window is not foreseen by it.")
    if result.fallback:
        lines.append(f"Champion basis: BG/NBD alone because {result.fallback}.")
    return lines


def train_ltv(history: History, settings: TrainingSettings,
              cutoff: datetime | pd.Timestamp | None = None,
              horizon_days: int = DEFAULT_HORIZON_DAYS, params: LtvParams | None = None,
              kind: str | None = None,
              calendar: PromotionCalendar = NO_CALENDAR) -> LtvTrainingResult:
    """Evaluate out of time, log one MLflow run, register the version and apply the gate.

    Without a cutoff, the latest holdout the books complete (`windows.plan_training`: h days,
    or shorter on a young history). See the module docstring for the BG/NBD run that follows a
    booster's loss when there is no champion.
    """
    params = params or LtvParams()
    plan = (plan_training(history, horizon_days) if cutoff is None
            else plan_evaluation(history, pd.Timestamp(cutoff), horizon_days))
    result = evaluate_plan(history, plan, settings.seed, params, kind, calendar)
    trained = _log_and_gate(result, history, settings, params)
    if (kind is None and result.model.kind != "bgnbd" and not trained.decision.promoted
            and current_champion(MODEL_NAME) is None):
        fallback = evaluate_plan(history, plan, settings.seed, params, "bgnbd", calendar)
        fallback.fallback = ("the booster did not beat BG/NBD on the same holdout "
                             f"(run {trained.run_id}) and there is no champion")
        return replace(_log_and_gate(fallback, history, settings, params), booster=trained)
    return trained


def _log_and_gate(result: LtvEvaluation, history: History, settings: TrainingSettings,
                  params: LtvParams) -> LtvTrainingResult:
    """One MLflow run: params, metrics, model and card, then the gate's decision."""
    configure_tracking(settings)
    held = result.split.evaluation
    name = f"ltv-{held.cutoff.date()}-h{result.model.horizon_days:g}-{result.model.kind}"
    with mlflow.start_run(run_name=name) as run:
        table = _log_run(result, settings.seed, params, history)
        _card(result, history, params)
        decision = gate(result, run.info.run_id)
    log.info("fenrun-ltv v%s -> %s: %s", decision.version, decision.alias, decision.rule)
    return LtvTrainingResult(run.info.run_id, result, decision, table)


def champion_predictions(features: pd.DataFrame, model_uri: str) -> np.ndarray:
    """Load a registered LTV model (`models:/fenrun-ltv@champion`) and score a feature frame."""
    return predict_with(mlflow.pyfunc.load_model(model_uri), features).to_numpy()


def load_books(database_url: str, currency: str | None = None) -> History:
    """The order history of the settled books at `database_url`."""
    engine = create_db_engine(database_url)
    try:
        with engine.connect() as conn:
            return load_history(conn, currency)
    finally:
        engine.dispose()


def train(settings: TrainingSettings) -> TrainOutcome:
    """`fenrun train ltv`: the latest complete window (ending at `train_as_of` if set)."""
    ltv = LtvSettings()
    history = load_books(settings.database_url, ltv.currency)
    if settings.train_as_of:
        history = history.as_of(pd.Timestamp(settings.train_as_of).tz_convert("UTC"))
    result = train_ltv(history, settings, horizon_days=ltv.horizon_days,
                       calendar=load_calendar(ltv.calendar))
    return TrainOutcome(MODEL_NAME, result.run_id, result.decision,
                        {f"{k}": v for k, v in candidate_metrics(result.evaluation).items()})
