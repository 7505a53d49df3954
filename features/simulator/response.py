"""The hidden response of promoters to their commission rate, and its expected value per arm.

A `ResponseMall` is the same kind of mall as the event simulator's (its promoters come from
`population.grow_population`: lognormal talent, heavy-tailed referral forest, grades, channels),
plus what the event simulator has no use for: each promoter's elasticity to the level-1 rate, fraud
agents whose volume and refunds jump when their rate rises, and an observable risk flag list that
catches only some of them. Observable attributes (`observable()`) are what a policy may read;
`labels()` is ground truth for evaluation only.

Why these shapes: the elasticity is a nonlinear function of attributes (big sellers are saturated,
chat-based channels react, novices react more) plus unobservable noise, so a model has something
to learn but cannot learn all of it. Truth per arm (`arm_expectations`) is an expectation, not a
draw, so the oracle knows exactly what a rate is worth and nothing about next month's luck.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from features.simulator.catalog import CATEGORIES, CHANNELS
from features.simulator.population import IdSpace, children_index, grow_population
from features.simulator.response_config import MAX_RESPONSE_PROMOTERS, ResponseConfig

DAY_S = 86_400
JOIN_WINDOW_CYCLES = 12  # promoters joined over the year before the logged history starts
# How much each main channel reacts (chat and groups react to money; links and posters barely).
CHANNEL_REACTION = np.array([0.8, 0.6, 1.0, -0.6, -0.8, 0.2, 0.0])
MEAN_BASKET_YUAN = np.array([
    c.median_yuan * np.exp(c.price_sigma**2 / 2) * (1 + c.extra_lines) * (1 + c.extra_qty)
    for c in CATEGORIES
])
REFUND_FACTOR = np.array([c.refund_factor for c in CATEGORIES])
BASKET_SIGMA = 0.6  # spread of one order's value around its category mean
MAX_ELASTICITY = 3.0
# Gauss-Hermite nodes (probabilists') for expectations over the elasticity's unexplained noise
_NODES, _WEIGHTS = np.polynomial.hermite_e.hermegauss(40)
_WEIGHTS = _WEIGHTS / _WEIGHTS.sum()


@dataclass(slots=True)
class ResponseMall:
    """Promoters of one simulated mall: observable attributes and hidden response parameters."""

    config: ResponseConfig
    seed: int
    channel: np.ndarray
    grade: np.ndarray
    category: np.ndarray
    tenure0: np.ndarray  # whole cycles since joining, at the start of the logged history
    parent: np.ndarray  # -1 for a root
    n_children: np.ndarray
    flagged: np.ndarray  # on the risk flag list (observable)
    elasticity: np.ndarray  # hidden
    explained_elasticity: np.ndarray  # hidden: the part of e the attributes explain (unclipped)
    base_orders: np.ndarray  # hidden: orders per cycle at effort 1 after the ramp
    fraud: np.ndarray  # hidden

    def __len__(self) -> int:
        return len(self.channel)

    @property
    def basket_yuan(self) -> np.ndarray:
        return MEAN_BASKET_YUAN[self.category]

    @property
    def margin_rate(self) -> np.ndarray:
        return np.asarray(self.config.category_margins)[self.category]

    def observable(self) -> pd.DataFrame:
        """Attributes a policy may use: everything a real mall knows about its promoters."""
        return pd.DataFrame({
            "promoter": np.arange(len(self)), "channel": self.channel, "grade": self.grade,
            "category": self.category, "tenure0": self.tenure0, "n_children": self.n_children,
            "has_parent": (self.parent >= 0).astype(np.int8), "flagged": self.flagged,
            "margin_rate": self.margin_rate,
        })

    def labels(self) -> pd.DataFrame:
        """Ground truth only evaluation reads: elasticity, fraud, selling level."""
        return pd.DataFrame({"promoter": np.arange(len(self)), "elasticity": self.elasticity,
                             "fraud": self.fraud, "base_orders": self.base_orders})


def build_mall(config: ResponseConfig, promoters: int, seed: int) -> ResponseMall:
    """Draw a mall of `promoters` from the event simulator's population and attach responses."""
    if not 10 <= promoters <= MAX_RESPONSE_PROMOTERS:
        raise ValueError(f"promoters: {promoters} is outside 10..{MAX_RESPONSE_PROMOTERS}")
    rng = np.random.default_rng([seed, 17])
    horizon_s = JOIN_WINDOW_CYCLES * config.cycle_days * DAY_S
    pop = grow_population(rng, promoters, horizon_s, 0, IdSpace(), IdSpace())
    tenure0 = ((horizon_s - pop.join_s) // (config.cycle_days * DAY_S)).astype(np.int64)
    kids, offsets = children_index(pop.parent)
    n_children = np.diff(offsets).astype(np.int64)
    del kids
    talent = pop.talent
    fraud = rng.random(promoters) < config.fraud_share
    flagged = (fraud & (rng.random(promoters) < config.fraud_flagged_share)) | (
        ~fraud & (rng.random(promoters) < config.false_flag_share))
    reaction = _reaction_score(talent, pop.channel, tenure0, n_children, pop.grade)
    noise = rng.normal(0.0, 1.0, promoters)
    share = config.observable_share
    explained = config.response_mean + config.response_spread * np.sqrt(share) * reaction
    elasticity = config.response_mean + config.response_spread * (
        np.sqrt(share) * reaction + np.sqrt(1.0 - share) * noise)
    elasticity = np.clip(elasticity, 0.0, MAX_ELASTICITY)
    elasticity[fraud] = config.fraud_elasticity
    sellers = talent > 0
    mean_talent = talent[sellers].mean() if sellers.any() else 1.0
    base_orders = config.orders_per_cycle * talent / mean_talent
    base_orders[fraud] = config.orders_per_cycle * rng.uniform(0.5, 2.0, int(fraud.sum()))
    return ResponseMall(
        config=config, seed=seed, channel=pop.channel.astype(np.int64),
        grade=pop.grade.astype(np.int64), category=pop.favourite.astype(np.int64),
        tenure0=tenure0, parent=pop.parent, n_children=n_children, flagged=flagged,
        elasticity=elasticity, explained_elasticity=explained, base_orders=base_orders,
        fraud=fraud,
    )


def _reaction_score(talent: np.ndarray, channel: np.ndarray, tenure0: np.ndarray,
                    n_children: np.ndarray, grade: np.ndarray) -> np.ndarray:
    """Standardised nonlinear reactivity: saturated big sellers, reactive chat channels, novices."""
    log_t = np.log(np.where(talent > 0, talent, 1e-3))
    sellers = talent > 0
    centre = np.median(log_t[sellers]) if sellers.any() else 0.0
    score = (-1.0 * np.tanh(1.5 * (log_t - centre - 0.5))
             + CHANNEL_REACTION[channel]
             + 0.8 * np.exp(-tenure0 / 3.0)
             + 0.5 * np.minimum(n_children, 3) / 3.0
             - 0.4 * (grade >= 2))
    sd = score.std()
    return (score - score.mean()) / (sd if sd > 0 else 1.0)


@dataclass(slots=True)
class MallState:
    """Where each promoter stands at the start of a cycle (carried from cycle to cycle)."""

    effort: np.ndarray
    active: np.ndarray
    prev_rate: np.ndarray
    tenure: np.ndarray
    cycle: int

    def copy(self) -> MallState:
        return MallState(self.effort.copy(), self.active.copy(), self.prev_rate.copy(),
                         self.tenure.copy(), self.cycle)


def initial_state(mall: ResponseMall) -> MallState:
    n = len(mall)
    return MallState(effort=np.ones(n), active=np.ones(n, dtype=bool),
                     prev_rate=np.full(n, mall.config.plan_rate), tenure=mall.tenure0.copy(),
                     cycle=0)


def ramp(config: ResponseConfig, tenure: np.ndarray) -> np.ndarray:
    return 1.0 - 0.6 * np.exp(-tenure / config.novice_ramp_cycles)


def response(mall: ResponseMall, rate: np.ndarray, cadence: np.ndarray) -> np.ndarray:
    """Steady-state effort multiplier at `rate` (n,) or (n, arms) and cadence (1 = immediate)."""
    cfg = mall.config
    e = mall.elasticity if np.ndim(rate) == 1 else mall.elasticity[:, None]
    cad = cadence if np.ndim(rate) == 1 else cadence[:, None]
    return (rate / cfg.plan_rate) ** e * (1.0 + cfg.immediate_lift * cad)


def attribute_response(mall: ResponseMall, rates: np.ndarray, cadence: np.ndarray) -> np.ndarray:
    """`response` (n, arms) as far as the attributes tell: its expectation over the noise.

    E[(r / r0) ** e | x] with e = clip(explained(x) + spread * sqrt(1 - share) * z, 0, 3), z
    standard normal (Gauss-Hermite). This is the best any learner reading the attributes could
    know of a promoter's response, so a policy planned on it is the ceiling such a learner can
    reach; fraud agents keep their (known) fraud elasticity, which only makes the ceiling higher.
    """
    cfg = mall.config
    residual_sd = cfg.response_spread * np.sqrt(1.0 - cfg.observable_share)
    e = np.clip(mall.explained_elasticity[:, None] + residual_sd * _NODES[None, :], 0.0,
                MAX_ELASTICITY)
    e[mall.fraud] = cfg.fraud_elasticity
    log_ratio = np.log(rates / cfg.plan_rate)  # (arms,)
    expected = np.einsum("nka,k->na", np.exp(e[:, :, None] * log_ratio[None, None, :]), _WEIGHTS)
    return expected * (1.0 + cfg.immediate_lift * cadence[:, None])


def refund_share(mall: ResponseMall, rate: np.ndarray) -> np.ndarray:
    """Expected refunded share of GMV; a fraud agent's jumps with its rate and escapes the hold."""
    fraud = mall.fraud if np.ndim(rate) == 1 else mall.fraud[:, None]
    honest = mall.config.refund_rate * REFUND_FACTOR[mall.category]
    honest = honest if np.ndim(rate) == 1 else honest[:, None]
    return np.where(fraud, np.clip(0.25 + 3.0 * (rate - 0.04), 0.0, 0.9), honest)


def arm_expectations(mall: ResponseMall, state: MallState, cadence: np.ndarray,
                     horizon: str = "steady", known: str = "all") -> dict[str, np.ndarray]:
    """True expected yuan per promoter (rows) and ladder arm (columns) for one cycle.

    `steady`: once the promoter has settled at the arm (what an allocation should plan for);
    `next`: the very next cycle from `state` (what one logged cycle at that arm is worth, for OPE).
    `known="attributes"`: the elasticity only as far as the attributes explain it (levels and
    fraud still true; see `attribute_response`), the ceiling of any learner reading attributes.
    Upline spill-over is left out on purpose: neither the oracle nor a learner is told about it.
    """
    cfg = mall.config
    rates = np.asarray(cfg.ladder)[None, :]
    if known == "all":
        steady = response(mall, np.broadcast_to(rates, (len(mall), len(cfg.ladder))), cadence)
    elif known == "attributes":
        steady = attribute_response(mall, rates[0], cadence)
    else:
        raise ValueError(f"known: {known!r} is not 'all' or 'attributes'")
    if horizon == "next":
        effort = cfg.carry_over * state.effort[:, None] + (1 - cfg.carry_over) * steady
    elif horizon == "steady":
        effort = steady
    else:
        raise ValueError(f"horizon: {horizon!r} is not 'steady' or 'next'")
    orders = (mall.base_orders * ramp(cfg, state.tenure + 1) * state.active)[:, None] * effort
    gmv = orders * mall.basket_yuan[:, None]
    refunds = gmv * refund_share(mall, np.broadcast_to(rates, gmv.shape))
    kept = gmv - refunds
    commissionable = np.where(mall.fraud[:, None], gmv, kept)  # fraud refunds escape the hold
    upline = cfg.upline_rate * (mall.parent >= 0)[:, None]
    commission = (rates + upline) * commissionable
    margin = mall.margin_rate[:, None] * kept - commission
    return {"gmv": gmv, "kept": kept, "commissionable": commissionable,
            "commission": commission, "margin": margin}


def downline_spill_margin(mall: ResponseMall, state: MallState, downline_rate: np.ndarray,
                          cadence: np.ndarray) -> np.ndarray:
    """Expected yuan (rows, ladder arms) an upline makes next cycle from its downline's extra
    orders (`spill_share` of them, as `response_run.step` adds them), its downline served
    `downline_rate` (n,) from `state`, at each arm of its own.

    A logged row's margin contains this, so a per-row truth for off-policy evaluation must too:
    with the downline as logged, it is what the row would have earned at another arm (the
    downline's own rates under a target policy are interference a per-row estimate cannot see).
    """
    cfg = mall.config
    lam = mall.base_orders * ramp(cfg, state.tenure + 1) * state.active
    effort = cfg.carry_over * state.effort + (1 - cfg.carry_over) * response(
        mall, downline_rate, cadence)
    extra = np.maximum(lam * effort - lam, 0.0)
    has_parent = mall.parent >= 0
    orders = cfg.spill_share * np.bincount(mall.parent[has_parent], extra[has_parent],
                                           minlength=len(mall)) * state.active
    rates = np.broadcast_to(np.asarray(cfg.ladder)[None, :], (len(mall), len(cfg.ladder)))
    refunded = refund_share(mall, rates)
    commissionable = np.where(mall.fraud[:, None], 1.0, 1.0 - refunded)
    upline = cfg.upline_rate * has_parent[:, None]
    per_order = mall.basket_yuan[:, None] * (mall.margin_rate[:, None] * (1.0 - refunded)
                                             - (rates + upline) * commissionable)
    return orders[:, None] * per_order


def channel_names() -> list[str]:
    return [c.name for c in CHANNELS]
