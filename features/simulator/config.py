"""What a simulation run is asked to produce, and what it reports back.

Rates are plain floats: they are probabilities that steer a random generator, never money. Every
amount the simulator writes is built from integer fen, so no float ever reaches an event.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime

FRAUD_TYPES = (
    "self_referral", "device_farm", "refund_abuse", "velocity_burst", "referral_ring", "click_spam",
)
MAX_PROMOTERS = 2_000_000  # keeps a typo in --promoters from eating the machine
MAX_DAYS = 3 * 366
MAX_FRAUD_RATE = 0.2


@dataclass(frozen=True, slots=True)
class FraudRates:
    """Share of promoters labelled with each fraud type (a referral ring counts every member)."""

    self_referral: float = 0.010
    device_farm: float = 0.004
    refund_abuse: float = 0.006
    velocity_burst: float = 0.004
    referral_ring: float = 0.006
    click_spam: float = 0.005

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class SimulationConfig:
    """One simulated mall: size, period, seed and the knobs that shape its behaviour.

    `orders_per_promoter_year` is the mean over *all* promoters (most sell little, a few a lot);
    `refund_base_rate` is the share of orders with a refund before category multipliers;
    `browse_scale` scales the non-converting clicks that give channels their conversion rates.
    """

    promoters: int = 1000
    days: int = 90
    seed: int = 7
    start: datetime = datetime(2026, 1, 1, tzinfo=UTC)
    fraud: FraudRates = field(default_factory=FraudRates)
    refund_base_rate: float = 0.06
    orders_per_promoter_year: float = 12.0
    browse_scale: float = 0.5
    hold_days: int = 7  # written into plan.yaml; refund abuse refunds after this hold releases
    # Share of fraudsters who hide (a second phone, spread-out farms, evening bursts, rings on
    # fresh devices, slow click bots: see `fraud.py`). 0 draws nothing extra, so the files of
    # every existing seed stay byte-identical.
    fraud_stealth: float = 0.0
    # Plans v2: a plan with every rule on, and events that use them (payment channels, regions,
    # line quantities, regional agents; grades come with every run).
    plan_rules: bool = False

    def __post_init__(self) -> None:
        if not 10 <= self.promoters <= MAX_PROMOTERS:
            raise ValueError(f"promoters: {self.promoters} is outside 10..{MAX_PROMOTERS}")
        if not 1 <= self.days <= MAX_DAYS:
            raise ValueError(f"days: {self.days} is outside 1..{MAX_DAYS}")
        if self.start.tzinfo is None or self.start.utcoffset() is None:
            raise ValueError(f"start: {self.start!r} must be timezone-aware")
        if self.start.microsecond or self.start.second:
            raise ValueError(f"start: {self.start!r} must fall on a whole minute")
        for name, rate in self.fraud.as_dict().items():
            if not 0.0 <= rate <= MAX_FRAUD_RATE:
                raise ValueError(f"fraud.{name}: {rate} is outside 0..{MAX_FRAUD_RATE}")
        if sum(self.fraud.as_dict().values()) > 0.5:
            raise ValueError("fraud: the rates add up to more than half of all promoters")
        if not 0.0 <= self.refund_base_rate <= 0.5:
            raise ValueError(f"refund_base_rate: {self.refund_base_rate} is outside 0..0.5")
        if not 0.0 < self.orders_per_promoter_year <= 1000:
            raise ValueError(f"orders_per_promoter_year: {self.orders_per_promoter_year}")
        if not 0.0 <= self.fraud_stealth <= 1.0:
            raise ValueError(f"fraud_stealth: {self.fraud_stealth} is outside 0..1")
        if not 0.0 <= self.browse_scale <= 10:
            raise ValueError(f"browse_scale: {self.browse_scale} is outside 0..10")

    @property
    def horizon_s(self) -> int:
        """Length of the simulated period in seconds; every event falls in [start, start + it)."""
        return self.days * 86_400

    @property
    def start_utc(self) -> datetime:
        return self.start.astimezone(UTC)


@dataclass(frozen=True, slots=True)
class SimulationSummary:
    """What was written: event counts per type, money in fen, labelled fraud, and the time taken."""

    out_dir: str
    events: dict[str, int]
    orders: int
    customers: int
    gmv_minor: int
    refunded_minor: int
    fraud_promoters: dict[str, int]
    seconds: float

    @property
    def total_events(self) -> int:
        return sum(self.events.values())

    @property
    def gmv(self) -> str:
        return f"{self.gmv_minor // 100}.{self.gmv_minor % 100:02d}"
