"""Named guardrails between a proposed commission rate and the rate a promoter is served.

Each rule is a pure function of (proposal, rate so far, settings) that returns a `Verdict`: pass,
clip (rate moved to the nearest allowed value), block (back to the current rate) or needs-approval
(held at the current rate until a person approves). Rules run in one fixed order (`RULES`), as
Stripe Radar evaluates its rule types, and every verdict is recorded, so a decision's trail
replays to its final rate (`replay`) and can be audited rule by rule (EU AI Act Art. 12/14).
The order matters: the kill switch and the risk flag decide before any arithmetic; the budget is
charged only for what survived the step and ceiling clips; approval is asked for last, on the
change that would actually be served. A current rate outside the floor/ceiling (say, the
compliance cap was lowered) is clipped even when an earlier rule held it: the cap is law, the kill
switch stops the model.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum

import numpy as np

EPS = 1e-9


class Outcome(StrEnum):
    PASS = "pass"
    CLIP = "clip"
    BLOCK = "block"
    NEEDS_APPROVAL = "needs_approval"


@dataclass(frozen=True, slots=True)
class GuardrailSettings:
    """Thresholds of every rule (configuration; bounded)."""

    kill_switch: bool = False
    min_orders: int = 3  # orders in the history before any change
    max_relative_width: float = 2.0  # interval width / predicted sales above this: no change
    cooldown_cycles: int = 1  # cycles that must pass after a change before the next one
    max_step: float = 0.02
    floor: float = 0.04
    ceiling: float = 0.16
    compliance_cap: float = 0.16
    category_floor: tuple[tuple[int, float], ...] = ()
    category_ceiling: tuple[tuple[int, float], ...] = ()
    approval_above: float = 0.02  # a change larger than this needs a person

    def __post_init__(self) -> None:
        if not 0 <= self.min_orders <= 10_000:
            raise ValueError(f"min_orders: {self.min_orders} is outside 0..10000")
        if not 0 < self.max_relative_width <= 100:
            raise ValueError(f"max_relative_width: {self.max_relative_width} is outside (0, 100]")
        if not 0 <= self.cooldown_cycles <= 52:
            raise ValueError(f"cooldown_cycles: {self.cooldown_cycles} is outside 0..52")
        for name in ("max_step", "floor", "ceiling", "compliance_cap", "approval_above"):
            value = getattr(self, name)
            if not 0 <= value <= 1:
                raise ValueError(f"{name}: {value} is outside 0..1")
        if self.floor > min(self.ceiling, self.compliance_cap):
            raise ValueError(f"floor: {self.floor} is above the ceiling or the compliance cap")

    def bounds(self, category: int) -> tuple[float, float]:
        floor = dict(self.category_floor).get(category, self.floor)
        ceiling = min(dict(self.category_ceiling).get(category, self.ceiling),
                      self.compliance_cap)
        return floor, max(floor, ceiling)


@dataclass(frozen=True, slots=True)
class Proposal:
    """One promoter's proposed change, with what the rules need to judge it."""

    promoter: int
    current_rate: float
    proposed_rate: float
    flagged: bool = False
    orders: int = 0
    relative_width: float | None = None  # None: no model interval (rule-based proposals)
    cycles_since_change: int = 10**6
    category: int = 0
    cost_current: float = 0.0  # predicted commission - budget share * net GMV at current rate
    cost_proposed: float = 0.0  # the same at the proposed rate


@dataclass(frozen=True, slots=True)
class Verdict:
    rule: str
    outcome: Outcome
    rate_before: float
    rate_after: float
    detail: str = ""


@dataclass(frozen=True, slots=True)
class Decision:
    proposal: Proposal
    trail: tuple[Verdict, ...]
    final_rate: float
    allowance_after: float = field(default=float("inf"))


Rule = Callable[[Proposal, float, GuardrailSettings, float], tuple[Verdict, float]]


def held_rate(p: Proposal, s: GuardrailSettings) -> float:
    """The rate a promoter keeps when a change is refused: its current one, made compliant."""
    low, high = s.bounds(p.category)
    return float(min(max(p.current_rate, low), high))


def _hold(name: str, outcome: Outcome, p: Proposal, rate: float, detail: str,
          s: GuardrailSettings) -> Verdict:
    return Verdict(name, outcome, rate, held_rate(p, s), detail)


def kill_switch(p: Proposal, rate: float, s: GuardrailSettings, allowance: float
                ) -> tuple[Verdict, float]:
    if s.kill_switch and abs(rate - p.current_rate) > EPS:
        return _hold("kill_switch", Outcome.BLOCK, p, rate, "kill switch is on", s), allowance
    return Verdict("kill_switch", Outcome.PASS, rate, rate), allowance


def risk_flag(p: Proposal, rate: float, s: GuardrailSettings, allowance: float
              ) -> tuple[Verdict, float]:
    if p.flagged and rate > p.current_rate + EPS:
        return _hold("risk_flag", Outcome.BLOCK, p, rate, "no raise on the risk list", s), allowance
    return Verdict("risk_flag", Outcome.PASS, rate, rate), allowance


def min_evidence(p: Proposal, rate: float, s: GuardrailSettings, allowance: float
                 ) -> tuple[Verdict, float]:
    if abs(rate - p.current_rate) <= EPS:
        return Verdict("min_evidence", Outcome.PASS, rate, rate), allowance
    if p.orders < s.min_orders:
        detail = f"orders {p.orders} < {s.min_orders}"
        return _hold("min_evidence", Outcome.BLOCK, p, rate, detail, s), allowance
    if p.relative_width is not None and p.relative_width > s.max_relative_width:
        detail = f"interval width {p.relative_width:.3f} > {s.max_relative_width}"
        return _hold("min_evidence", Outcome.BLOCK, p, rate, detail, s), allowance
    return Verdict("min_evidence", Outcome.PASS, rate, rate), allowance


def cooldown(p: Proposal, rate: float, s: GuardrailSettings, allowance: float
             ) -> tuple[Verdict, float]:
    if abs(rate - p.current_rate) > EPS and p.cycles_since_change < s.cooldown_cycles:
        detail = f"changed {p.cycles_since_change} cycles ago < {s.cooldown_cycles}"
        return _hold("cooldown", Outcome.BLOCK, p, rate, detail, s), allowance
    return Verdict("cooldown", Outcome.PASS, rate, rate), allowance


def max_step(p: Proposal, rate: float, s: GuardrailSettings, allowance: float
             ) -> tuple[Verdict, float]:
    low, high = p.current_rate - s.max_step, p.current_rate + s.max_step
    if rate > high + EPS or rate < low - EPS:
        clipped = float(min(max(rate, low), high))
        return Verdict("max_step", Outcome.CLIP, rate, clipped, f"step > {s.max_step}"), allowance
    return Verdict("max_step", Outcome.PASS, rate, rate), allowance


def floor_ceiling(p: Proposal, rate: float, s: GuardrailSettings, allowance: float
                  ) -> tuple[Verdict, float]:
    low, high = s.bounds(p.category)
    if rate > high + EPS or rate < low - EPS:
        clipped = float(min(max(rate, low), high))
        detail = f"outside [{low}, {high}] for category {p.category}"
        return Verdict("floor_ceiling", Outcome.CLIP, rate, clipped, detail), allowance
    return Verdict("floor_ceiling", Outcome.PASS, rate, rate), allowance


def budget(p: Proposal, rate: float, s: GuardrailSettings, allowance: float
           ) -> tuple[Verdict, float]:
    """Charge the predicted extra spend of this change to the cycle's remaining allowance.

    A change that lowers spend always passes and frees allowance, even when the mall is over
    budget already (a negative allowance): it moves toward the budget, never away from it.
    """
    span = p.proposed_rate - p.current_rate
    share = (rate - p.current_rate) / span if abs(span) > EPS else 0.0
    extra = (p.cost_proposed - p.cost_current) * share
    if extra > EPS and extra > allowance + EPS:
        detail = f"extra {extra:.2f} > allowance {allowance:.2f}"
        return _hold("budget", Outcome.BLOCK, p, rate, detail, s), allowance
    return Verdict("budget", Outcome.PASS, rate, rate), allowance - extra


def approval(p: Proposal, rate: float, s: GuardrailSettings, allowance: float
             ) -> tuple[Verdict, float]:
    if abs(rate - p.current_rate) > s.approval_above + EPS:
        detail = f"change {rate - p.current_rate:+.3f} > {s.approval_above}"
        return _hold("approval", Outcome.NEEDS_APPROVAL, p, rate, detail, s), allowance
    return Verdict("approval", Outcome.PASS, rate, rate), allowance


RULES: tuple[Rule, ...] = (kill_switch, risk_flag, min_evidence, cooldown, max_step,
                           floor_ceiling, budget, approval)
RULE_NAMES = tuple(rule.__name__ for rule in RULES)


def review(p: Proposal, settings: GuardrailSettings, allowance: float = float("inf")) -> Decision:
    """Run every rule in order on one proposal; the trail records each verdict."""
    rate, trail = p.proposed_rate, []
    for rule in RULES:
        verdict, allowance = rule(p, rate, settings, allowance)
        trail.append(verdict)
        rate = verdict.rate_after
    return Decision(p, tuple(trail), rate, allowance)


def replay(decision: Decision, settings: GuardrailSettings,
           allowance: float = float("inf")) -> float:
    """Re-run each recorded rule from its recorded input; raises if any verdict differs."""
    rate = decision.proposal.proposed_rate
    for rule, recorded in zip(RULES, decision.trail, strict=True):
        if abs(recorded.rate_before - rate) > EPS:
            raise ValueError(f"trail: {recorded.rule} starts at {recorded.rate_before}, not {rate}")
        again, allowance = rule(decision.proposal, rate, settings, allowance)
        if again != recorded:
            raise ValueError(f"trail: {recorded.rule} replays to {again}, recorded {recorded}")
        rate = again.rate_after
    return rate


def review_batch(proposals: Sequence[Proposal], settings: GuardrailSettings,
                 allowance: float) -> list[Decision]:
    """Review in the given order (highest priority first), sharing one budget allowance."""
    decisions = []
    for proposal in proposals:
        decision = review(proposal, settings, allowance)
        allowance = decision.allowance_after
        decisions.append(decision)
    return decisions


class RateGuard:
    """The guardrails as the policy evaluation consumes them (arrays in, arrays out)."""

    def __init__(self, settings: GuardrailSettings) -> None:
        self.settings = settings

    def allowed_arms(self, ladder: np.ndarray, current: np.ndarray, flagged: np.ndarray,
                     since_change: np.ndarray, category: np.ndarray) -> np.ndarray:
        """Arms a proposal could reach without a block or clip (budget aside), per promoter."""
        s = self.settings
        rates = ladder[None, :]
        cur = current[:, None]
        stay = np.abs(rates - cur) <= EPS
        ok = np.abs(rates - cur) <= s.max_step + EPS
        bounds = np.array([s.bounds(int(c)) for c in range(int(category.max()) + 1)])
        ok &= (rates >= bounds[category, 0][:, None] - EPS)
        ok &= (rates <= bounds[category, 1][:, None] + EPS)
        ok &= ~(flagged[:, None] & (rates > cur + EPS))
        ok &= (since_change >= s.cooldown_cycles)[:, None] & (not s.kill_switch)
        ok &= np.abs(rates - cur) <= s.approval_above + EPS
        return ok | stay

    def review(self, current: np.ndarray, proposed: np.ndarray, context: dict[str, np.ndarray],
               allowance: float) -> tuple[np.ndarray, dict[str, int]]:
        """Review changed proposals in the given order; final rates and non-pass counts by rule.

        `context` holds per-row arrays: flagged, orders, relative_width (nan = no interval),
        since_change, category, cost_current, cost_proposed.
        """
        proposals = [
            Proposal(int(i), float(current[i]), float(proposed[i]), bool(context["flagged"][i]),
                     int(context["orders"][i]),
                     None if np.isnan(context["relative_width"][i])
                     else float(context["relative_width"][i]),
                     int(context["since_change"][i]), int(context["category"][i]),
                     float(context["cost_current"][i]), float(context["cost_proposed"][i]))
            for i in range(len(current))
        ]
        decisions = review_batch(proposals, self.settings, allowance)
        counts: dict[str, int] = {}
        for decision in decisions:
            for verdict in decision.trail:
                if verdict.outcome is not Outcome.PASS:
                    key = f"{verdict.rule}:{verdict.outcome.value}"
                    counts[key] = counts.get(key, 0) + 1
        return np.array([d.final_rate for d in decisions]), counts

    def violations(self, previous: np.ndarray, served: np.ndarray, flagged: np.ndarray,
                   since_change: np.ndarray, category: np.ndarray) -> int:
        """Served rates that the guardrails (budget aside) would not have let through unchanged."""
        count = 0
        for i in np.flatnonzero(np.abs(served - previous) > EPS):
            p = Proposal(int(i), float(previous[i]), float(served[i]), bool(flagged[i]),
                         orders=10**6, cycles_since_change=int(since_change[i]),
                         category=int(category[i]))
            if abs(review(replace(p), self.settings).final_rate - served[i]) > EPS:
                count += 1
        return count
