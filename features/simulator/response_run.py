"""Run a response mall forward a cycle at a time; write the logged history a policy learns from.

Common random numbers: every draw of cycle c comes from `default_rng([seed, 9000 + c])` in a fixed
order and shape (one uniform or normal per promoter per use), and every draw enters monotonically
(orders by the inverse Poisson CDF), so two policies run from the same state see the same customers
and the same luck, and a higher rate can never lose a promoter orders by chance.

Money out of a cycle is integer fen (`*_minor`); the expectations that steer the draws are floats.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import poisson

from features.simulator.response import (
    BASKET_SIGMA,
    MallState,
    ResponseMall,
    initial_state,
    ramp,
    refund_share,
    response,
)
from features.simulator.response_config import MAX_CYCLES

REFUND_NOISE = 0.3


@dataclass(slots=True)
class CycleOutcome:
    """What one cycle produced per promoter, in fen."""

    orders: np.ndarray
    gmv_minor: np.ndarray
    refund_in_hold_minor: np.ndarray  # refunded before the hold released: no commission paid
    refund_after_hold_minor: np.ndarray  # refunded after it: the commission is lost
    commission_minor: np.ndarray  # level 1 at the served rate
    upline_minor: np.ndarray  # level 2 paid to the upline on these sales
    margin_minor: np.ndarray  # gross margin on kept sales minus both commissions
    active: np.ndarray  # still with the mall at the start of the cycle (observable)

    @property
    def kept_minor(self) -> np.ndarray:
        return self.gmv_minor - self.refund_in_hold_minor - self.refund_after_hold_minor


def step(mall: ResponseMall, state: MallState, rate: np.ndarray,
         cadence: np.ndarray) -> tuple[CycleOutcome, MallState]:
    """Serve `rate` and `cadence` (1 = immediate settlement) for one cycle; return its outcome."""
    cfg = mall.config
    n = len(mall)
    if rate.shape != (n,) or cadence.shape != (n,):
        raise ValueError(f"rate/cadence: shapes {rate.shape}/{cadence.shape}, expected ({n},)")
    if not np.isin(np.round(rate, 6), np.round(np.asarray(cfg.ladder), 6)).all():
        raise ValueError("rate: every served rate must be on the ladder")
    rng = np.random.default_rng([mall.seed, 9000 + state.cycle])
    u_orders, z_basket, z_refund = rng.random(n), rng.normal(size=n), rng.normal(size=n)
    u_cut, u_base = rng.random(n), rng.random(n)
    effort = cfg.carry_over * state.effort + (1 - cfg.carry_over) * response(mall, rate, cadence)
    lam = mall.base_orders * ramp(cfg, state.tenure + 1) * effort * state.active
    extra = np.maximum(lam - mall.base_orders * ramp(cfg, state.tenure + 1) * state.active, 0.0)
    has_parent = mall.parent >= 0
    lam = lam + cfg.spill_share * np.bincount(mall.parent[has_parent], extra[has_parent],
                                              minlength=n) * state.active
    orders = np.where(lam > 0, poisson.ppf(u_orders, np.maximum(lam, 1e-12)), 0).astype(np.int64)
    spread = BASKET_SIGMA / np.sqrt(np.maximum(orders, 1))
    value = orders * mall.basket_yuan * np.exp(spread * z_basket - spread**2 / 2)
    gmv = np.round(value * 100).astype(np.int64)
    share = np.clip(refund_share(mall, rate) * (1 + REFUND_NOISE * z_refund), 0.0, 1.0)
    refunds = np.round(gmv * share).astype(np.int64)
    after = np.where(mall.fraud, refunds, 0)
    in_hold = refunds - after
    commissionable = gmv - in_hold
    commission = np.floor(rate * commissionable).astype(np.int64)
    upline = np.floor(cfg.upline_rate * commissionable * has_parent).astype(np.int64)
    margin = np.round(mall.margin_rate * (gmv - refunds)).astype(np.int64) - commission - upline
    cut = state.prev_rate - rate > cfg.churn_cut_pp + 1e-9
    leaves = (cut & (u_cut < cfg.churn_cut_prob)) | (u_base < cfg.base_churn_per_cycle)
    outcome = CycleOutcome(orders, gmv, in_hold, after, commission, upline, margin,
                           state.active.copy())
    after_state = MallState(effort=effort, active=state.active & ~leaves, prev_rate=rate.copy(),
                            tenure=state.tenure + 1, cycle=state.cycle + 1)
    return outcome, after_state


def outcome_frame(mall: ResponseMall, outcome: CycleOutcome, cycle: int, rate: np.ndarray,
                  cadence: np.ndarray) -> pd.DataFrame:
    """One row per promoter for one cycle, as the settlement books would report it."""
    return pd.DataFrame({
        "promoter": np.arange(len(mall)), "cycle": cycle, "rate": rate, "cadence": cadence,
        "active": outcome.active, "orders": outcome.orders, "gmv_minor": outcome.gmv_minor,
        "kept_minor": outcome.kept_minor,
        "commissionable_minor": outcome.gmv_minor - outcome.refund_in_hold_minor,
        "commission_minor": outcome.commission_minor, "upline_minor": outcome.upline_minor,
        "margin_minor": outcome.margin_minor,
    })


@dataclass(slots=True)
class LoggedHistory:
    """The history a policy learns from, the state after it, and the one-step truth per row."""

    log: pd.DataFrame  # promoter, cycle, rate, arm, propensity, reason, cadence, outcomes
    state: MallState  # where the mall stands when the history ends
    states: list[MallState]  # the state at the start of each logged cycle (evaluation only)


def log_history(mall: ResponseMall, cycles: int, exploration: float,
                cadence: np.ndarray, block: int = 1) -> LoggedHistory:
    """Serve the plan rate, but a stated share of promoter-cycles get a rate drawn from the ladder.

    Explorations come in blocks of `block` consecutive cycles on the same drawn rate, since effort
    carries over: the second cycle shows most of the steady-state effect, and the step from the
    first to the second identifies the carry-over on the same promoter. A free promoter starts a
    block with probability q = E / (block - (block - 1) E), so at most a share E of promoter-cycles
    is explored. The propensity written beside each served rate is its marginal probability at
    that cycle (exact: P(in a block at cycle c) / arms, plus the rest on the plan rate), so the
    log can later judge any other policy (IPS, self-normalised IPS, doubly robust).
    """
    if not 1 <= cycles <= MAX_CYCLES:
        raise ValueError(f"cycles: {cycles} is outside 1..{MAX_CYCLES}")
    if not 0.0 <= exploration <= 1.0:
        raise ValueError(f"exploration: {exploration} is outside 0..1")
    if not 1 <= block <= 4:
        raise ValueError(f"block: {block} is outside 1..4")
    cfg = mall.config
    ladder = np.asarray(cfg.ladder)
    arms = len(ladder)
    rng = np.random.default_rng([mall.seed, 4242])
    start_prob = exploration / (block - (block - 1) * exploration)
    starts: list[float] = []  # P(a block starts at cycle c), the same for every promoter
    left = np.zeros(len(mall), dtype=np.int64)  # cycles still to serve in the current block
    drawn = np.full(len(mall), cfg.plan_arm)
    state = initial_state(mall)
    frames, states = [], []
    for cycle in range(cycles):
        free = left == 0
        start = free & (rng.random(len(mall)) < start_prob)
        draw = rng.integers(0, arms, len(mall))
        drawn = np.where(start, draw, drawn)
        left = np.where(start, block, left)
        explore = left > 0
        arm = np.where(explore, drawn, cfg.plan_arm)
        busy = sum(starts[-(block - 1):]) if block > 1 and starts else 0.0
        starts.append(start_prob * (1.0 - busy))
        in_block = sum(starts[-block:])
        rate = ladder[arm]
        propensity = in_block / arms + (1 - in_block) * (arm == cfg.plan_arm)
        states.append(state.copy())
        outcome, state = step(mall, state, rate, cadence)
        frame = outcome_frame(mall, outcome, cycle, rate, cadence)
        frame["arm"] = arm
        frame["propensity"] = propensity
        frame["reason"] = np.where(explore, "explore", "plan")
        frames.append(frame)
        left = np.maximum(left - 1, 0)
    return LoggedHistory(log=pd.concat(frames, ignore_index=True), state=state, states=states)
