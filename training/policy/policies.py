"""The four policies every evaluation compares: fixed, threshold rule, learned and oracle.

Learned and oracle share one optimiser (`allocate`) and one budget; they differ only in the
per-arm values they are given (the response model's predictions, or the simulator's truth). The
threshold rule is what malls do today (raise a step when a promoter's margin per yuan of
commission clears a target, lower a step when far below) and is held to the same budget through
the same guard, with a naive spend forecast (sales unchanged by the rate), since it has no model.
"""

from __future__ import annotations

import numpy as np

from training.policy.allocate import allocate
from training.policy.forward import Context, PolicyFn, Proposal


def fixed_policy(plan_arm: int, arms: int) -> PolicyFn:
    def decide(ctx: Context) -> Proposal:
        n = len(ctx.current_arm)
        return Proposal(np.full(n, plan_arm), np.zeros((n, arms)), np.zeros(n),
                        np.full(n, np.nan))
    return decide


def threshold_policy(ladder: np.ndarray, margin_rate: np.ndarray, upline: np.ndarray,
                     raise_above: float, lower_below: float,
                     history_kept: np.ndarray, history_commission: np.ndarray) -> PolicyFn:
    arms = len(ladder)

    def decide(ctx: Context) -> Proposal:
        kept = history_kept if ctx.cycle == 0 else ctx.last_kept
        spend = history_commission if ctx.cycle == 0 else ctx.last_commission
        ratio = np.where(spend > 0, margin_rate * kept / np.maximum(spend, 1e-9), 0.0)
        lower = (ratio < lower_below) & (spend > 0)
        step = np.where(ratio > raise_above, 1, np.where(lower, -1, 0))
        arm = np.clip(ctx.current_arm + step, 0, arms - 1)
        arm = np.where(ctx.allowed[np.arange(len(arm)), arm], arm, ctx.current_arm)
        base = kept[:, None] * np.ones(arms)[None, :]
        cost = (ladder[None, :] + upline[:, None]) * base - ctx.budget_target * base
        gain = ratio * (arm != ctx.current_arm)
        return Proposal(arm, cost, gain, np.full(len(arm), np.nan))
    return decide


def optimised_policy(margin: np.ndarray, commission: np.ndarray, kept: np.ndarray,
                     relative_width: np.ndarray, exploration: float, seed: int) -> PolicyFn:
    """Per cycle: the budgeted allocation over the arms the guardrails would let through.

    Forecast-error feedback: after a cycle, the realised spend ratio (commission / net GMV) is
    compared with the ratio these predictions give for the arms just served; when reality ran
    higher, the next allocation aims that much lower. A model that underestimates how strongly
    raised promoters sell would otherwise overspend every cycle (the planner's integral control
    reacts only to the overshoot already paid, and the cooldown slows cuts).
    With `exploration` > 0, that share of promoters is moved one allowed ladder step at random
    (the policy keeps learning); the served arm's propensity is then known from this rule.
    """
    rng = np.random.default_rng([seed, 77])

    def decide(ctx: Context) -> Proposal:
        active = ctx.active[:, None]
        value = margin * active
        target = ctx.budget_target - _forecast_error(ctx, commission, kept)
        cost = (commission - target * kept) * active
        plan = allocate(value, cost, 0.0, ctx.allowed, ctx.current_arm)
        arm = plan.arm.copy()
        explore = np.flatnonzero(rng.random(len(arm)) < exploration)
        if len(explore):
            shifted = np.clip(arm[explore] + rng.choice([-1, 1], len(explore)), 0,
                              margin.shape[1] - 1)
            ok = ctx.allowed[explore, shifted]
            arm[explore[ok]] = shifted[ok]
        rows = np.arange(len(arm))
        gain = value[rows, arm] - value[rows, ctx.current_arm]
        return Proposal(arm, cost, gain, relative_width[rows, arm])
    return decide


def _forecast_error(ctx: Context, commission: np.ndarray, kept: np.ndarray) -> float:
    """Realised minus predicted spend ratio of the arms served last cycle (0 when below)."""
    realised_kept = float(ctx.last_kept.sum())
    if ctx.cycle == 0 or realised_kept <= 0:
        return 0.0
    rows = np.arange(len(ctx.current_arm))
    served = ctx.active.astype(bool)
    predicted_kept = float(kept[rows, ctx.current_arm][served].sum())
    if predicted_kept <= 0:
        return 0.0
    predicted = float(commission[rows, ctx.current_arm][served].sum()) / predicted_kept
    return max(0.0, float(ctx.last_commission.sum()) / realised_kept - predicted)
