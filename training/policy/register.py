"""Register the response model (`fenrun-rate-response`) and the policy (`fenrun-rate-policy`).

Why a gate of its own: the policy is judged off the logs, not on a labelled holdout. A candidate
becomes champion only if its doubly robust (DR) estimate of one cycle's margin per logged row
beats the current champion policy's DR estimate on the *same* logs, with the same reward model
(the candidate's) and the same logged propensities; with no champion yet, the incumbent is the
plan's fixed-rate policy. Both estimates and the rule are tagged on the run and the versions.
The response model moves with its policy: both are logged by one run and get the same alias.

A run whose data fingerprint and parameters equal those of the champion's or challenger's run
registers nothing (`registry.same_as_registered`): the same seeded fit is the same model.

Limit: the DR estimate here uses the candidate model fitted on all the logs (not cross-fitted
like `evaluation._ope`), so the candidate's arms were chosen by the model that also supplies q;
the propensity-weighted correction keeps the estimate unbiased in q, but the arm choice can
still flatter the candidate a little (the winner's curse). The gate is strict (ties keep).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import lightgbm
import mlflow
import numpy as np
import pandas as pd
import scipy
from mlflow.models import infer_signature
from mlflow.pyfunc import PythonModel
from mlflow.tracking import MlflowClient

from training.config import TrainingSettings
from training.policy import ope
from training.policy.allocate import allocate
from training.policy.config import PolicyConfig
from training.policy.evaluation import _one_step_margin
from training.policy.response_model import LEVEL_FEATURES, ResponseModel
from training.registry import (
    CHALLENGER,
    CHAMPION,
    GateDecision,
    configure_tracking,
    current_champion,
    data_fingerprint,
    log_model_card,
    registered_name,
    same_as_registered,
    unchanged_decision,
)

RESPONSE_NAME = "fenrun-rate-response"
POLICY_NAME = "fenrun-rate-policy"
RUN_NAME = "fenrun-rate-policy-train"
METRIC = "dr_margin_per_row_yuan"
RULE = ("candidate DR estimate of margin per logged row > current champion policy's (or, with no "
        "champion, the plan's fixed-rate policy's) DR estimate on the same logs")
INPUT_COLUMNS = ["promoter", *LEVEL_FEATURES]
OUTCOMES = ["kept_yuan", "commissionable_yuan", "commission_yuan", "margin_yuan"]
MAX_ROWS = 10**7  # a frame larger than this is a mistake, not a batch
REQUIREMENTS = [f"lightgbm=={lightgbm.__version__}", f"numpy=={np.__version__}",
                f"pandas=={pd.__version__}", f"scipy=={scipy.__version__}"]


def _checked(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"model_input: columns {missing} are missing")
    if len(frame) > MAX_ROWS:
        raise ValueError(f"model_input: {len(frame)} rows is above {MAX_ROWS}")
    return frame


class ResponsePyfunc(PythonModel):
    """Promoter features + a ladder `arm` in; steady-state expected outcomes at that arm out
    (yuan per cycle: kept sales, commissionable sales, commission of both levels, margin), and
    the spread of kept sales over the elasticity bags (its interval, for serving)."""

    def __init__(self, model: ResponseModel) -> None:
        self.model = model

    def predict(self, context: Any, model_input: pd.DataFrame,
                params: dict[str, Any] | None = None) -> pd.DataFrame:
        frame = _checked(pd.DataFrame(model_input), [*INPUT_COLUMNS, "arm"])
        arm = frame["arm"].to_numpy().astype(np.int64)
        arms = len(self.model.ladder)
        if len(arm) and (arm.min() < 0 or arm.max() >= arms):
            raise ValueError(f"arm: values must be in 0..{arms - 1}, got {arm.min()}..{arm.max()}")
        preds = self.model.predict_arms(frame.reset_index(drop=True))
        rows = np.arange(len(arm))
        return pd.DataFrame({
            "kept_yuan": preds.kept[rows, arm],
            "commissionable_yuan": preds.commissionable[rows, arm],
            "commission_yuan": preds.commission[rows, arm],
            "margin_yuan": preds.margin[rows, arm],
            "kept_sd_yuan": preds.kept_sd[rows, arm]}, index=frame.index)


@dataclass(frozen=True)
class Allocation:
    """What the policy adds to the response model: the ladder, the budget and exploration."""

    ladder: tuple[float, ...]
    budget_share: float
    budget_safety: float
    exploration_keep: float


class PolicyPyfunc(PythonModel):
    """Promoter features in (one row per promoter of the batch the budget covers); the chosen
    ladder `arm` and `rate` out. The budget couples the rows: the allocation is over the batch.
    Exploration (`exploration_keep`) is left to the server, which must log its propensities."""

    def __init__(self, model: ResponseModel, allocation: Allocation) -> None:
        self.model = model
        self.allocation = allocation

    def predict(self, context: Any, model_input: pd.DataFrame,
                params: dict[str, Any] | None = None) -> pd.DataFrame:
        frame = _checked(pd.DataFrame(model_input), INPUT_COLUMNS)
        arm = choose_arms(self.model, self.allocation, frame.reset_index(drop=True))
        ladder = np.asarray(self.allocation.ladder)
        return pd.DataFrame({"arm": arm, "rate": ladder[arm]}, index=frame.index)


def choose_arms(model: ResponseModel, allocation: Allocation, decision: pd.DataFrame
                ) -> np.ndarray:
    """The budgeted allocation on the model's predictions (as `evaluation._ope` judges it)."""
    preds = model.predict_arms(decision)
    share = allocation.budget_share - allocation.budget_safety
    return allocate(preds.margin, preds.commission - share * preds.kept, 0.0).arm


def dr_value(model: ResponseModel, frame: pd.DataFrame, arm_of: pd.Series) -> ope.Estimate:
    """DR estimate of one cycle's margin per logged row had each promoter been served `arm_of`
    (index promoter), clustered by promoter; q is `model`'s one-step margin."""
    ladder = np.asarray(model.ladder)
    target = arm_of.reindex(frame["promoter"]).to_numpy()
    if np.isnan(target.astype(float)).any():
        raise ValueError("arm_of: some logged promoters have no target arm")
    target = target.astype(np.int64)
    q_logged = _one_step_margin(model, frame, frame["rate"].to_numpy())
    q_target = _one_step_margin(model, frame, ladder[target])
    return ope.doubly_robust(frame["margin"].to_numpy(), frame["arm"].to_numpy(), target,
                             frame["propensity"].to_numpy(), q_logged, q_target,
                             frame["promoter"].to_numpy())


@dataclass(frozen=True)
class Registration:
    run_id: str
    policy: GateDecision
    response: GateDecision
    candidate_dr: float
    incumbent_dr: float
    incumbent: str  # "fixed" or "v<N>"


def register_policy(settings: TrainingSettings, model: ResponseModel, frame: pd.DataFrame,
                    decision: pd.DataFrame, config: PolicyConfig) -> Registration:
    """Log both models in one run and gate them on the logs (module doc).

    `frame`: the logged rows the model was fitted on (`data.training_frame`); `decision`: every
    promoter's features after the log (`data.decision_frame`).
    """
    configure_tracking(settings)
    allocation = Allocation(tuple(float(r) for r in model.ladder), config.budget_share,
                            config.budget_safety, config.exploration_keep)
    candidate_arms = pd.Series(choose_arms(model, allocation, decision),
                               index=decision["promoter"].to_numpy())
    candidate = dr_value(model, frame, candidate_arms).estimate
    client = MlflowClient()
    with mlflow.start_run(run_name=RUN_NAME) as run:
        run_id = run.info.run_id
        mlflow.log_params({**{f"policy_{k}": v for k, v in asdict(config).items()},
                           "ladder": ",".join(f"{r:g}" for r in allocation.ladder),
                           "plan_rate": model.plan_rate, "upline_rate": model.upline_rate,
                           "gate_rule": RULE})
        mlflow.set_tags({"data_fingerprint": data_fingerprint(frame),
                         "decision_data_fingerprint": data_fingerprint(decision)})
        mlflow.log_metrics({**model.metrics, f"candidate_{METRIC}": candidate,
                            **{f"explored_rows_arm_{a}": float(n)
                               for a, n in model.explored_rows.items()}})
        uris = _log_models(model, allocation, decision)
        _card(model, frame, allocation, candidate)
    twin = same_as_registered(client, POLICY_NAME, run_id)
    if twin is not None:
        policy = unchanged_decision(client, run_id, POLICY_NAME, METRIC, candidate, *twin)
        response = _twin_response(client, run_id, candidate)
        return Registration(run_id, policy, response, candidate, math.nan, "unchanged")
    incumbent_version = current_champion(POLICY_NAME, client)
    if incumbent_version is None:
        plan_arm = int(np.argmin(np.abs(np.asarray(allocation.ladder) - model.plan_rate)))
        incumbent_arms = pd.Series(plan_arm, index=decision["promoter"].to_numpy())
        incumbent_label = "fixed"
    else:
        loaded = mlflow.pyfunc.load_model(f"models:/{POLICY_NAME}/{incumbent_version.version}")
        chosen = loaded.predict(decision[INPUT_COLUMNS])
        incumbent_arms = pd.Series(chosen["arm"].to_numpy(), index=decision["promoter"].to_numpy())
        incumbent_label = f"v{incumbent_version.version}"
    incumbent = dr_value(model, frame, incumbent_arms).estimate
    promoted = candidate > incumbent
    verdict = "promoted" if promoted else "kept challenger"
    rule = (f"{RULE}: candidate {candidate:.6g} vs {incumbent_label} {incumbent:.6g} yuan per "
            f"row: {verdict}")
    alias = CHAMPION if promoted else CHALLENGER
    decisions = {name: _register(client, run_id, uris[name], name, alias, rule, candidate,
                                 incumbent, incumbent_label)
                 for name in (POLICY_NAME, RESPONSE_NAME)}
    return Registration(run_id, decisions[POLICY_NAME], decisions[RESPONSE_NAME], candidate,
                        incumbent, incumbent_label)


def _twin_response(client: MlflowClient, run_id: str, candidate: float) -> GateDecision:
    twin = same_as_registered(client, RESPONSE_NAME, run_id)
    if twin is None:  # the response model was never registered by this run's twin
        raise RuntimeError(f"{RESPONSE_NAME}: no version from the same data and parameters, "
                           f"although {POLICY_NAME} has one")
    return unchanged_decision(client, run_id, RESPONSE_NAME, METRIC, candidate, *twin)


def _register(client: MlflowClient, run_id: str, uri: str, name: str, alias: str, rule: str,
              candidate: float, incumbent: float, incumbent_label: str) -> GateDecision:
    version = mlflow.register_model(uri, name)
    client.set_registered_model_alias(name, alias, version.version)
    tags = {"gate.rule": rule, "gate.metric": METRIC, f"gate.candidate_{METRIC}": f"{candidate}",
            f"gate.incumbent_{METRIC}": f"{incumbent}", "gate.incumbent": incumbent_label,
            "gate.alias": alias}
    for key, value in tags.items():
        client.set_model_version_tag(name, version.version, key, value)
        client.set_tag(run_id, f"{key}.{name}" if key != "gate.rule" else "gate.rule", value)
    client.log_metric(run_id, f"gate_incumbent_{METRIC}", incumbent)
    return GateDecision(promoted=alias == CHAMPION, alias=alias, model_name=registered_name(name),
                        version=str(version.version), metric=METRIC, candidate=candidate,
                        champion=incumbent, rule=rule)


def _log_models(model: ResponseModel, allocation: Allocation, decision: pd.DataFrame
                ) -> dict[str, str]:
    """Log both pyfuncs to the active run; registered name -> logged model URI."""
    example = decision[INPUT_COLUMNS].head(5).reset_index(drop=True)
    response = ResponsePyfunc(model)
    arm_example = example.assign(arm=np.arange(len(example)) % len(model.ladder))
    response_info = mlflow.pyfunc.log_model(
        name="response_model", python_model=response, input_example=arm_example,
        signature=infer_signature(arm_example, response.predict(None, arm_example)),
        pip_requirements=REQUIREMENTS)
    policy = PolicyPyfunc(model, allocation)
    policy_info = mlflow.pyfunc.log_model(
        name="policy", python_model=policy, input_example=example,
        signature=infer_signature(example, policy.predict(None, example)),
        pip_requirements=REQUIREMENTS)
    return {RESPONSE_NAME: response_info.model_uri, POLICY_NAME: policy_info.model_uri}


def _card(model: ResponseModel, frame: pd.DataFrame, allocation: Allocation,
          candidate: float) -> None:
    log_model_card(
        model_name=POLICY_NAME,
        purpose=("Level-1 commission rate per promoter under a commission budget, from a "
                 "response model of how each promoter's sales move with its rate."),
        data={"logged rows": len(frame), "promoters": int(frame["promoter"].nunique()),
              "cycles": int(frame["cycle"].nunique())},
        features=INPUT_COLUMNS,
        metrics={METRIC: candidate, **model.metrics},
        params={"ladder": ",".join(f"{r:g}" for r in allocation.ladder),
                "budget_share": allocation.budget_share,
                "budget_safety": allocation.budget_safety,
                "exploration_keep": allocation.exploration_keep},
        limits=["Power-law response shape assumed; the simulator draws from that shape.",
                "The allocation is over the batch given (the budget couples promoters).",
                "DR estimate not cross-fitted (module doc of training/policy/register.py)."])


def learn_from_simulation(response: Any, promoters: int, seed: int, cycles: int,
                          exploration: float, config: PolicyConfig
                          ) -> tuple[ResponseModel, pd.DataFrame, pd.DataFrame]:
    """A simulated logged history, the response model fitted on it, and the decision rows.

    Raises ValueError when the log holds too few explored rows to fit (cold start)."""
    from features.simulator.response import build_mall
    from features.simulator.response_run import log_history
    from training.policy.data import decision_frame, training_frame
    from training.policy.evaluation import cadence_rule
    from training.policy.response_model import explored_rows, fit_response, has_evidence

    mall = build_mall(response, promoters, seed)
    history = log_history(mall, cycles, exploration, cadence_rule(mall, config))
    frame = training_frame(history.log, mall.observable(), response.plan_rate)
    ladder = np.asarray(response.ladder)
    if not has_evidence(explored_rows(frame, len(ladder)), response.plan_arm, config):
        raise ValueError(f"exploration: {exploration} left fewer than "
                         f"{config.min_explored_rows_per_arm} explored rows on some arm")
    model = fit_response(frame, ladder, response.upline_rate, config)
    return model, frame, decision_frame(history.log, mall.observable(), history.state.active)
