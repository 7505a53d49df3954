"""`fenrun policy evaluate`: simulate a logged history, learn from it, run every policy forward.

Per seed: a response mall; a logged history under the plan rate with an exploration share and
its propensities; the response model fitted on that log (or, without enough exploration, the
cold-start answer: plan rate plus a small randomised exploration, never a confident guess); then
fixed, threshold, learned and oracle run forward for the same cycles from the same state with the
same luck, all through the same guard and budget. A fifth, the attribute oracle, plans on the
true levels but knows each elasticity only as far as the attributes explain it: the ceiling of
any learner that reads attributes, so the learned policy is judged against both. OPE (IPS, SNIPS,
DR) of the learned policy is computed from the log and compared with the simulator's one-cycle
truth; the learned policy is champion only if its DR estimate beats the current (plan) policy's
on the same logs.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import pandas as pd

from features.simulator.response import (
    ResponseMall,
    arm_expectations,
    build_mall,
    downline_spill_margin,
)
from features.simulator.response_config import ResponseConfig
from features.simulator.response_run import LoggedHistory, log_history
from training.policy import ope
from training.policy.allocate import allocate
from training.policy.config import PolicyConfig
from training.policy.data import decision_frame, training_frame
from training.policy.elasticity_report import elasticity_report
from training.policy.forward import Guard, Setting, run_forward
from training.policy.policies import fixed_policy, optimised_policy, threshold_policy
from training.policy.response_model import (
    ArmPredictions,
    ResponseModel,
    fit_response,
    has_evidence,
)

HISTORY_CYCLES = 8


@dataclass(frozen=True)
class EvaluationRequest:
    promoters: int
    seeds: tuple[int, ...]
    cycles: int
    exploration: float
    response: ResponseConfig
    policy: PolicyConfig
    history_cycles: int = HISTORY_CYCLES


def cadence_rule(mall: ResponseMall, config: PolicyConfig) -> np.ndarray:
    """Immediate settlement for trusted performers (grade, tenure, not flagged); standard else."""
    return ((mall.grade >= config.immediate_min_grade)
            & (mall.tenure0 >= config.immediate_min_tenure) & ~mall.flagged).astype(np.int64)


def _since_change(log: pd.DataFrame) -> np.ndarray:
    ordered = log.sort_values(["promoter", "cycle"])
    changed = ordered["rate"].ne(ordered.groupby("promoter")["rate"].shift(1).fillna(
        ordered["rate"]))
    last = ordered["cycle"].where(changed).groupby(ordered["promoter"]).max()
    end = int(log["cycle"].max())
    return np.where(last.isna(), 10**6, end - last.fillna(0)).astype(np.int64)


def evaluate_seed(request: EvaluationRequest, seed: int, guard: Guard) -> dict[str, object]:
    cfg, pcfg = request.response, request.policy
    mall = build_mall(cfg, request.promoters, seed)
    cadence = cadence_rule(mall, pcfg)
    started = time.perf_counter()
    history = log_history(mall, request.history_cycles, request.exploration, cadence)
    observable = mall.observable()
    frame = training_frame(history.log, observable, cfg.plan_rate)
    ladder = np.asarray(cfg.ladder)
    model = fit_response(frame, ladder, cfg.upline_rate, pcfg) if has_evidence(
        _explored(frame, len(ladder)), cfg.plan_arm, pcfg) else None
    fit_s = time.perf_counter() - started
    decision = decision_frame(history.log, observable, history.state.active)
    truth = arm_expectations(mall, history.state, cadence, "steady")
    attributes = arm_expectations(mall, history.state, cadence, "steady", known="attributes")
    upline = cfg.upline_rate * (mall.parent >= 0)
    orders_seen = history.log.groupby("promoter")["orders"].sum().to_numpy()
    setting = Setting(mall, cadence, guard, pcfg.budget_share, pcfg.budget_safety, orders_seen,
                      _since_change(history.log))
    kept_hist = history.log.groupby("promoter")["kept_minor"].mean().to_numpy() / 100
    comm_hist = (history.log.groupby("promoter")[["commission_minor", "upline_minor"]].sum()
                 .sum(axis=1).to_numpy() / 100 / request.history_cycles)
    policies = {
        "fixed": fixed_policy(cfg.plan_arm, len(ladder)),
        "threshold": threshold_policy(ladder, mall.margin_rate, upline, pcfg.threshold_raise,
                                      pcfg.threshold_lower, kept_hist, comm_hist),
        "oracle": optimised_policy(truth["margin"], truth["commission"], truth["kept"],
                                   np.zeros(truth["margin"].shape), 0.0, seed),
        "attribute_oracle": optimised_policy(attributes["margin"], attributes["commission"],
                                             attributes["kept"],
                                             np.zeros(attributes["margin"].shape), 0.0, seed),
    }
    status = "learned"
    if model is not None:
        preds = model.predict_arms(decision)
        width = 2 * 1.96 * preds.kept_sd / np.maximum(preds.kept, 1.0)
        policies["learned"] = optimised_policy(preds.margin, preds.commission, preds.kept, width,
                                               pcfg.exploration_keep, seed)
    else:
        status = "cold_start: no explored arms; serving the plan rate with exploration"
        zeros = np.zeros((len(mall), len(ladder)))
        plan_pref = zeros.copy()
        plan_pref[:, cfg.plan_arm] = 1.0
        policies["learned"] = optimised_policy(plan_pref, zeros, zeros, zeros,
                                               pcfg.cold_start_exploration, seed)
    results = {name: run_forward(setting, history.state, request.cycles, fn)
               for name, fn in policies.items()}
    fixed, learned, oracle, ceiling = (results[k].margin for k in
                                       ("fixed", "learned", "oracle", "attribute_oracle"))
    out: dict[str, object] = {
        "seed": seed, "status": status, "fit_s": fit_s,
        "policies": {k: r.as_dict(pcfg.budget_share) for k, r in results.items()},
        "oracle_share": _share(learned - fixed, oracle - fixed),
        # what the best any learner reading the attributes could reach, and the learned policy
        # as a share of that (its elasticity noise is unobservable by construction)
        "attribute_ceiling_share": _share(ceiling - fixed, oracle - fixed),
        "share_of_attribute_ceiling": _share(learned - fixed, ceiling - fixed),
        "budget_ok": results["learned"].as_dict(pcfg.budget_share)["budget_ok"],
        "guardrail_violations": sum(r.violations for r in results.values()),
        "fraud": _fraud_raises(mall, results["learned"].final_rate, cfg.plan_rate),
    }
    if model is not None:
        out["elasticity"] = elasticity_report(model.elasticity("kept", decision).mean(0), mall,
                                              history.state.active)
        out["ope"] = _ope(frame, history, mall, cadence, pcfg)
    return out


def _share(uplift: float, reference: float) -> float | None:
    return uplift / reference if abs(reference) > 1e-9 else None


def _explored(frame: pd.DataFrame, arms: int) -> dict[int, int]:
    counts = frame.loc[frame["propensity"] < 0.5].groupby("arm").size()
    return {a: int(counts.get(a, 0)) for a in range(arms)}


def _fraud_raises(mall: ResponseMall, final_rate: np.ndarray, plan_rate: float) -> dict[str, float]:
    raised = final_rate > plan_rate + 1e-9
    share = float(mall.fraud[raised].mean()) if raised.any() else 0.0
    return {"raised": int(raised.sum()), "fraud_share_of_raises": share,
            "fraud_base_rate": float(mall.fraud.mean())}


def _one_step_margin(model: ResponseModel, frame: pd.DataFrame, rate: np.ndarray,
                     scale: dict[str, np.ndarray] | None = None) -> np.ndarray:
    """The model's margin for each logged row had its served rate been `rate` (lags as logged),
    each target scaled by `scale` (the promoter's own-history multiplier) when given."""
    kept = model.one_step("kept", frame, rate)
    base = model.one_step("commissionable", frame, rate)
    if scale is not None:
        kept, base = kept * scale["kept"], base * scale["commissionable"]
    upline = model.upline_rate * frame["has_parent"].to_numpy()
    return frame["margin_rate"].to_numpy() * kept - (rate + upline) * base


def _clean(rows: pd.DataFrame, plan_rate: float) -> np.ndarray:
    """Active rows at the plan rate after two plan cycles: they measure a promoter's level."""
    plan = [np.isclose(rows[c].to_numpy(), plan_rate) for c in ("rate", "prev_rate",
                                                                  "prev2_rate")]
    return plan[0] & plan[1] & plan[2] & (rows["active"].to_numpy() == 1)


def _own_scale(model: ResponseModel, train: pd.DataFrame, held: pd.DataFrame,
               plan_rate: float) -> dict[str, np.ndarray]:
    """Per held row and target, the promoter's own clean history over the model's level, shrunk
    toward 1 by an amount fitted on the training promoters (`ope.own_level_multiplier`)."""
    out = {}
    for target in ("kept", "commissionable"):
        shrink = ope.choose_shrink(train[target].to_numpy(), model.level(target, train),
                                   _clean(train, plan_rate), train["promoter"].to_numpy(),
                                   train["cycle"].to_numpy())
        out[target] = ope.own_level_multiplier(
            held[target].to_numpy(), model.level(target, held), _clean(held, plan_rate),
            held["promoter"].to_numpy(), held["cycle"].to_numpy(), shrink)
    return out


def _row_truth(history: LoggedHistory, mall: ResponseMall, cadence: np.ndarray,
               promoter: np.ndarray, cycle: np.ndarray, arm: np.ndarray) -> np.ndarray:
    """Expected margin of each logged row had it been served `arm`: its own cycle from the logged
    state (carry-over, churn, ramp as logged) plus the spill from its downline as logged, which
    the logged reward contains too (a per-row estimate cannot see the downline's own change)."""
    out = np.zeros(len(promoter))
    log = history.log
    for c, state in enumerate(history.states):
        served = log.loc[log["cycle"] == c].sort_values("promoter")["rate"].to_numpy()
        value = (arm_expectations(mall, state, cadence, "next")["margin"]
                 + downline_spill_margin(mall, state, served, cadence))
        rows = cycle == c
        out[rows] = value[promoter[rows], arm[rows]]
    return out


def _policy_arm(preds: ArmPredictions, share: float, price: float, plan_arm: int) -> np.ndarray:
    """The learned rule at a logged row's own context: the arm maximising predicted margin minus
    `price` (the budget's Lagrange multiplier at the decision) times budget use; the plan arm
    when the model sees nothing to choose between (a promoter gone at that cycle).

    Why per row and not each promoter's decision-time arm: the decision's features come after
    the whole log, so they depend on the arms the log drew (a promoter explored at a cut churns
    and is then sent to the lowest arm), and 1[logged arm = target] / p no longer averages 1
    (1.08 on design seeds 1-5, 21-40, and 1.5 on the lowest arm), which biased IPS upward.
    """
    score = preds.margin - price * (preds.commission - share * preds.kept)
    flat = np.ptp(score, axis=1) <= 1e-9
    return np.where(flat, plan_arm, score.argmax(axis=1))


def _ope(frame: pd.DataFrame, history: LoggedHistory, mall: ResponseMall, cadence: np.ndarray,
         pcfg: PolicyConfig) -> dict[str, object]:
    """Judge the learned policy and the plan off the logs, cross-fitted by promoter halves.

    The model that picks a promoter's arm and predicts its reward never saw that promoter's rows,
    so the estimate is not flattered by the noise it was fitted on (the winner's curse); its rule
    (predictions and the decision's budget price) is applied at each row's own context
    (`_policy_arm`). The reward model q is the response model's one-step margin scaled by the
    promoter's own clean history (`_own_scale`); the headline estimate is the self-normalised DR
    with that q, beside plain DR with it and with the features-only q, IPS and SNIPS. The truth
    is the one-cycle expectation of the same rows at the same arms (`_row_truth`).
    """
    cfg = mall.config
    ladder = np.asarray(cfg.ladder)
    fold = frame["promoter"].to_numpy() % 2
    target = np.full(len(frame), cfg.plan_arm)
    qs = {name: np.zeros(len(frame)) for name in ("logged", "learned", "fixed", "logged_features",
                                                  "learned_features", "fixed_features")}
    observable = mall.observable()
    plan = np.full(len(frame), cfg.plan_rate)
    for k in (0, 1):
        train, held = frame.loc[fold != k], frame.loc[fold == k]
        model = fit_response(train, ladder, cfg.upline_rate, pcfg)
        last = history.log.loc[history.log["promoter"] % 2 == k]
        decision = decision_frame(last, observable.loc[observable["promoter"] % 2 == k],
                                  history.state.active[observable["promoter"] % 2 == k])
        preds = model.predict_arms(decision)
        share = pcfg.budget_share - pcfg.budget_safety
        price = allocate(preds.margin, preds.commission - share * preds.kept, 0.0).lagrange
        rows = fold == k
        target[rows] = _policy_arm(model.predict_arms(held), share, price, cfg.plan_arm)
        scale = _own_scale(model, train, held, cfg.plan_rate)
        rates = {"logged": held["rate"].to_numpy(), "learned": ladder[target[rows]],
                 "fixed": plan[rows]}
        for name, rate in rates.items():
            qs[name][rows] = _one_step_margin(model, held, rate, scale)
            qs[f"{name}_features"][rows] = _one_step_margin(model, held, rate)
    promoter = frame["promoter"].to_numpy()
    cycle = frame["cycle"].to_numpy()
    logged = frame["arm"].to_numpy()
    reward = frame["margin"].to_numpy()
    propensity = frame["propensity"].to_numpy()
    result: dict[str, object] = {}
    arms = {"learned": target, "fixed": np.full(len(frame), cfg.plan_arm)}
    for name, arm in arms.items():
        args = (reward, logged, arm, propensity)
        result[name] = {
            **ope.self_normalised_dr(*args, qs["logged"], qs[name], promoter).as_dict(),
            "estimator": "self-normalised DR, q = response model x own clean history",
            "dr": ope.doubly_robust(*args, qs["logged"], qs[name], promoter).as_dict(),
            "dr_features_q": ope.doubly_robust(*args, qs["logged_features"],
                                               qs[f"{name}_features"], promoter).as_dict(),
            "ips": ope.ips(*args, promoter).as_dict(),
            "snips": ope.snips(*args, promoter).as_dict(),
            "truth": float(_row_truth(history, mall, cadence, promoter, cycle, arm).mean()),
            # 1 in expectation when the target does not depend on the logged arms (a check)
            "mean_weight": float(((logged == arm) / propensity).mean()),
        }
    learned_dr = result["learned"]["estimate"]  # type: ignore[index]
    fixed_dr = result["fixed"]["estimate"]  # type: ignore[index]
    result["champion"] = {"rule": "learned DR estimate > plan DR estimate on the same logs",
                          "promoted": bool(learned_dr > fixed_dr)}
    return result


def evaluate_policies(request: EvaluationRequest, guard: Guard) -> dict[str, object]:
    started = time.perf_counter()
    seeds = [evaluate_seed(request, seed, guard) for seed in request.seeds]
    return {"seeds": seeds, "seconds": time.perf_counter() - started,
            "request": {"promoters": request.promoters, "cycles": request.cycles,
                        "exploration": request.exploration,
                        "history_cycles": request.history_cycles,
                        "response": request.response.as_metadata(),
                        "policy": {"budget_share": request.policy.budget_share,
                                   "exploration_keep": request.policy.exploration_keep}}}
