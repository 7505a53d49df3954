"""Run one rate policy forward on a response mall, cycle by cycle, through the guardrails.

Every policy starts from the same state at the end of the logged history and draws the same luck
(the simulator's common random numbers), so differences between policies are the policies'.
A policy proposes a rate per promoter each cycle; proposals that change a rate pass through the
guard (cuts first, then changes by expected gain, sharing one budget allowance); the guard's
final rates are served. A planner aims at budget_share - budget_safety and tightens its own
target by any overshoot it sees (integral control), since realised spend is noisy.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from features.simulator.response import MallState, ResponseMall
from features.simulator.response_run import step

EPS = 1e-9


class Guard(Protocol):
    """What the evaluation needs from the guardrails (serving.guardrails.RateGuard)."""

    def allowed_arms(self, ladder: np.ndarray, current: np.ndarray, flagged: np.ndarray,
                     since_change: np.ndarray, category: np.ndarray) -> np.ndarray: ...

    def review(self, current: np.ndarray, proposed: np.ndarray, context: dict[str, np.ndarray],
               allowance: float) -> tuple[np.ndarray, dict[str, int]]: ...

    def violations(self, previous: np.ndarray, served: np.ndarray, flagged: np.ndarray,
                   since_change: np.ndarray, category: np.ndarray) -> int: ...


@dataclass
class Context:
    """What a policy sees at the start of a cycle (all observable)."""

    cycle: int
    current_arm: np.ndarray
    active: np.ndarray
    allowed: np.ndarray
    budget_target: float
    last_kept: np.ndarray  # yuan, previous cycle
    last_commission: np.ndarray  # yuan, previous cycle, both levels


@dataclass
class Proposal:
    arm: np.ndarray
    cost: np.ndarray  # predicted (commission - target share * net GMV), promoters x arms
    gain: np.ndarray  # predicted value of the proposed arm over the current, for ordering
    relative_width: np.ndarray  # nan when the policy has no interval


PolicyFn = Callable[[Context], Proposal]


@dataclass
class RunResult:
    margin: float = 0.0
    commission: float = 0.0
    gmv: float = 0.0
    net_gmv: float = 0.0
    cycle_ratio: list[float] = field(default_factory=list)
    violations: int = 0
    guard_counts: dict[str, int] = field(default_factory=dict)
    final_rate: np.ndarray = field(default_factory=lambda: np.zeros(0))

    def as_dict(self, budget_share: float) -> dict[str, object]:
        return {"margin": self.margin, "commission": self.commission, "gmv": self.gmv,
                "net_gmv": self.net_gmv, "max_cycle_ratio": max(self.cycle_ratio),
                "cycle_ratios": [round(r, 5) for r in self.cycle_ratio],
                "budget_ok": max(self.cycle_ratio) <= budget_share + EPS,
                "guardrail_violations": self.violations, "guardrail_outcomes": self.guard_counts}


@dataclass
class Setting:
    mall: ResponseMall
    cadence: np.ndarray
    guard: Guard
    budget_share: float
    budget_safety: float
    orders_seen: np.ndarray
    since_change: np.ndarray


def run_forward(setting: Setting, start: MallState, cycles: int, policy: PolicyFn) -> RunResult:
    mall, guard = setting.mall, setting.guard
    ladder = np.asarray(mall.config.ladder)
    state, since = start.copy(), setting.since_change.copy()
    flagged = mall.flagged
    arm = np.searchsorted(ladder, state.prev_rate - EPS)
    result, overshoot = RunResult(), 0.0
    last_kept = np.zeros(len(mall))
    last_comm = np.zeros(len(mall))
    for offset in range(cycles):
        target = setting.budget_share - setting.budget_safety - overshoot
        allowed = guard.allowed_arms(ladder, ladder[arm], flagged, since, mall.category)
        ctx = Context(offset, arm, state.active, allowed, target, last_kept, last_comm)
        proposal = policy(ctx)
        served_arm, counts = _guarded(setting, ctx, proposal, since)
        for key, count in counts.items():
            result.guard_counts[key] = result.guard_counts.get(key, 0) + count
        served = ladder[served_arm]
        result.violations += guard.violations(ladder[arm], served, flagged, since, mall.category)
        outcome, state = step(mall, state, served, setting.cadence)
        changed = served_arm != arm
        since = np.where(changed, 0, since + 1)
        arm = served_arm
        kept = outcome.kept_minor.sum() / 100
        commission = (outcome.commission_minor.sum() + outcome.upline_minor.sum()) / 100
        result.margin += outcome.margin_minor.sum() / 100
        result.commission += commission
        result.gmv += outcome.gmv_minor.sum() / 100
        result.net_gmv += kept
        ratio = commission / kept if kept > 0 else 0.0
        result.cycle_ratio.append(ratio)
        overshoot = max(0.0, overshoot + ratio - (setting.budget_share - setting.budget_safety))
        last_kept = outcome.kept_minor / 100
        last_comm = (outcome.commission_minor + outcome.upline_minor) / 100
    result.final_rate = ladder[arm]
    return result


def _guarded(setting: Setting, ctx: Context, proposal: Proposal,
             since: np.ndarray) -> tuple[np.ndarray, dict[str, int]]:
    """Pass changed proposals through the guard; unchanged promoters keep their arm."""
    ladder = np.asarray(setting.mall.config.ladder)
    rows = np.arange(len(ctx.current_arm))
    cost_now = proposal.cost[rows, ctx.current_arm]
    cost_new = proposal.cost[rows, proposal.arm]
    allowance = -float(cost_now[ctx.active].sum())
    changed = np.flatnonzero(proposal.arm != ctx.current_arm)
    extra = cost_new[changed] - cost_now[changed]
    order = changed[np.lexsort((-proposal.gain[changed], extra >= 0))]
    context = {"flagged": setting.mall.flagged[order], "orders": setting.orders_seen[order],
               "relative_width": proposal.relative_width[order], "since_change": since[order],
               "category": setting.mall.category[order], "cost_current": cost_now[order],
               "cost_proposed": cost_new[order]}
    final, counts = setting.guard.review(ladder[ctx.current_arm[order]],
                                         ladder[proposal.arm[order]], context, allowance)
    served = ctx.current_arm.copy()
    if len(order):
        served[order] = np.searchsorted(ladder, final - EPS)
    return served, counts
