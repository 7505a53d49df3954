"""How simulated promoters respond to their commission rate: bounded knobs, written to metadata.

These numbers steer a random generator; they are never money. The response distribution (mean and
spread of the elasticity, the churn threshold) is configuration that goes into a run's metadata
(`as_metadata`), never into the logged history, and each promoter's drawn elasticity goes only to
the labels that evaluation reads.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

MAX_CYCLES = 60
MAX_RESPONSE_PROMOTERS = 200_000  # 10k x 12 is the benchmark; this keeps a typo off the machine
DEFAULT_LADDER = (0.04, 0.06, 0.08, 0.10, 0.12, 0.14, 0.16)
# Gross margin of each category (order of features.simulator.catalog.CATEGORIES): the mall knows
# these, so the policy may use them; a 10 % rate is cheap on beauty and ruinous on electronics.
DEFAULT_CATEGORY_MARGINS = (0.38, 0.50, 0.25, 0.35, 0.18, 0.33, 0.45)


@dataclass(frozen=True, slots=True)
class ResponseConfig:
    """One simulated mall's hidden response to its level-1 rate and settlement cadence.

    Elasticity e of a promoter: GMV scales by (rate / plan_rate) ** e at steady state.
    e = response_mean + response_spread * (sqrt(observable_share) * s(x) + sqrt(1 - it) * noise),
    s(x) a standardised nonlinear function of observable attributes, clipped to [0, 3].
    """

    response_mean: float = 0.8
    response_spread: float = 0.4
    observable_share: float = 0.7  # share of the elasticity's variance that attributes explain
    carry_over: float = 0.3  # effort_t = carry * effort_{t-1} + (1 - carry) * response(rate_t)
    churn_cut_pp: float = 0.03  # a cut by more than this (absolute rate) may make a promoter leave
    churn_cut_prob: float = 0.3
    base_churn_per_cycle: float = 0.01
    novice_ramp_cycles: float = 2.0  # novices sell at 1 - 0.6 exp(-tenure / this) of their level
    spill_share: float = 0.1  # share of a downline's extra orders its upline also makes
    fraud_share: float = 0.02
    fraud_flagged_share: float = 0.6  # share of fraud agents on the observable risk flag list
    false_flag_share: float = 0.01  # honest promoters wrongly on it
    fraud_elasticity: float = 1.6
    orders_per_cycle: float = 4.0  # mean over selling promoters at effort 1
    refund_rate: float = 0.06
    immediate_lift: float = 0.05  # effort lift from immediate settlement
    upline_rate: float = 0.02  # level-2 commission paid to the upline on the promoter's sales
    plan_rate: float = 0.10
    ladder: tuple[float, ...] = DEFAULT_LADDER
    category_margins: tuple[float, ...] = field(default=DEFAULT_CATEGORY_MARGINS)
    cycle_days: int = 30

    def __post_init__(self) -> None:
        _bounded("response_mean", self.response_mean, 0.0, 3.0)
        _bounded("response_spread", self.response_spread, 0.0, 2.0)
        for name in ("observable_share", "carry_over", "churn_cut_prob", "fraud_flagged_share"):
            _bounded(name, getattr(self, name), 0.0, 1.0)
        _bounded("churn_cut_pp", self.churn_cut_pp, 0.0, 0.5)
        _bounded("base_churn_per_cycle", self.base_churn_per_cycle, 0.0, 0.5)
        _bounded("novice_ramp_cycles", self.novice_ramp_cycles, 0.01, 24.0)
        _bounded("spill_share", self.spill_share, 0.0, 1.0)
        _bounded("fraud_share", self.fraud_share, 0.0, 0.2)
        _bounded("false_flag_share", self.false_flag_share, 0.0, 0.2)
        _bounded("fraud_elasticity", self.fraud_elasticity, 0.0, 5.0)
        _bounded("orders_per_cycle", self.orders_per_cycle, 0.01, 1000.0)
        _bounded("refund_rate", self.refund_rate, 0.0, 0.5)
        _bounded("immediate_lift", self.immediate_lift, 0.0, 1.0)
        _bounded("upline_rate", self.upline_rate, 0.0, 0.5)
        _bounded("cycle_days", self.cycle_days, 1, 366)
        if len(self.ladder) < 2 or list(self.ladder) != sorted(set(self.ladder)):
            raise ValueError(f"ladder: {self.ladder} must be at least two increasing rates")
        if not 0.0 < self.ladder[0] and self.ladder[-1] < 1.0:
            raise ValueError(f"ladder: {self.ladder} must lie inside (0, 1)")
        if self.plan_rate not in self.ladder:
            raise ValueError(f"plan_rate: {self.plan_rate} is not on the ladder {self.ladder}")
        if len(self.category_margins) != 7 or not all(0 < m < 1 for m in self.category_margins):
            raise ValueError(f"category_margins: {self.category_margins} needs 7 shares in (0, 1)")

    @property
    def plan_arm(self) -> int:
        return self.ladder.index(self.plan_rate)

    def as_metadata(self) -> dict[str, object]:
        """What a run records about its response distribution (never written to the events)."""
        return asdict(self)


def _bounded(name: str, value: float, low: float, high: float) -> None:
    if not low <= value <= high:
        raise ValueError(f"{name}: {value} is outside {low}..{high}")
