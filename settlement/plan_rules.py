"""The plans v2 keys of a version: channels, tiers, fixed commissions, grades, ladder, campaigns,
caps, compliance levels, regional agents, and the calendar they are counted in.

Every key is optional and a version without any of them has no `PlanRules` at all, so it
settles exactly as before. Rates are exact fractions and amounts integer minor units; each is
validated where it is read and the error names the key (`merchant_tiers[1].from_gmv: ...`).
The rules themselves (who earns what) live in `settlement/rules.py`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from fractions import Fraction
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator

from settlement.errors import InvalidEvent, PlanError
from settlement.money import parse_amount, parse_rate

MAX_CHAIN = 3  # levels a rate list may name; `max_levels` cuts what is paid, not what is written
MAX_LIST_ITEMS = 1_000  # tiers, bands, campaigns, channels, fixed skus, grades: each at most this


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class RawTier(_Strict):
    from_gmv: str
    platform_take_rate: str


class RawGrade(_Strict):
    levels: list[str]
    upgrade_at_gmv: str | None = None


class RawBand(_Strict):
    from_gmv: str
    bonus: str


class RawCampaign(_Strict):
    name: str
    start: datetime = Field(alias="from")
    end: datetime = Field(alias="to")
    categories: list[str] | None = None
    merchants: list[str] | None = None
    bonus: str

    @field_validator("start", "end")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("needs an offset such as Z or +08:00")
        return value.astimezone(UTC)


class RawCaps(_Strict):
    order_share: str | None = None
    per_order: str | None = None
    per_promoter_day: str | None = None


class RawAgents(_Strict):
    share: str


@dataclass(frozen=True, slots=True)
class Grade:
    name: str
    levels: tuple[Fraction, ...]
    upgrade_at_minor: int | None  # None: never reached by GMV (rank 0)

    @property
    def rank(self) -> int:
        return self.upgrade_at_minor or 0


@dataclass(frozen=True, slots=True)
class Campaign:
    name: str
    start: datetime
    end: datetime
    categories: frozenset[str] | None
    merchants: frozenset[str] | None
    bonus: Fraction

    def matches(self, category: str, merchant_id: str, paid_at: datetime) -> bool:
        """`from` <= paid instant < `to`, and the category or the merchant is listed (a
        campaign that lists neither matches every line)."""
        return self.start <= paid_at < self.end and self.matches_line(category, merchant_id)

    def matches_line(self, category: str, merchant_id: str) -> bool:
        if self.categories is None and self.merchants is None:
            return True
        return bool((self.categories and category in self.categories)
                    or (self.merchants and merchant_id in self.merchants))


@dataclass(frozen=True, slots=True)
class Caps:
    order_share: Fraction | None = None
    per_order_minor: int | None = None
    per_promoter_day_minor: int | None = None


@dataclass(frozen=True, slots=True)
class PlanRules:
    """The v2 keys of one version, exact. Absent keys are off (no inheritance between versions)."""

    timezone: ZoneInfo | None = None  # None: UTC
    channels: dict[str, Fraction] = field(default_factory=dict)
    tiers: tuple[tuple[int, Fraction], ...] = ()  # (from_gmv minor, take rate), ascending
    fixed: dict[str, tuple[int, ...]] = field(default_factory=dict)  # sku -> per unit, by level
    grades: dict[str, Grade] = field(default_factory=dict)
    ladder: tuple[tuple[int, Fraction], ...] = ()  # (from_gmv minor, bonus), ascending
    campaigns: tuple[Campaign, ...] = ()
    caps: Caps | None = None
    max_levels: int = 3
    agent_share: Fraction | None = None

    def rates(self) -> list[Fraction]:
        """Every rate of these rules (for the version's common denominator)."""
        found = list(self.channels.values()) + [rate for _, rate in self.tiers]
        found += [rate for grade in self.grades.values() for rate in grade.levels]
        found += [bonus for _, bonus in self.ladder] + [c.bonus for c in self.campaigns]
        if self.caps is not None and self.caps.order_share is not None:
            found.append(self.caps.order_share)
        if self.agent_share is not None:
            found.append(self.agent_share)
        return found

    def local_date(self, instant: datetime) -> str:
        """The calendar day of `instant` in the version's timezone, as YYYY-MM-DD."""
        return instant.astimezone(self.timezone or UTC).strftime("%Y-%m-%d")

    def take_at(self, month_gmv_minor: int) -> Fraction | None:
        """The tier's take rate for a merchant's month-to-date GMV; None below every tier."""
        rate = None
        for from_minor, tier_rate in self.tiers:
            if from_minor <= month_gmv_minor:
                rate = tier_rate
        return rate


def _money(text: str, currency: str, where: str) -> int:
    try:
        return parse_amount(text, currency, where)
    except InvalidEvent as error:
        raise PlanError(str(error)) from None


def _bounded(items: object, where: str) -> None:
    if items is not None and len(items) > MAX_LIST_ITEMS:  # type: ignore[arg-type]
        raise PlanError(f"{where}: at most {MAX_LIST_ITEMS} entries are allowed")


def _ascending(pairs: list[tuple[int, Fraction]], where: str) -> tuple[tuple[int, Fraction], ...]:
    starts = [start for start, _ in pairs]
    if len(set(starts)) != len(starts):
        raise PlanError(f"{where}: two entries start at the same from_gmv")
    return tuple(sorted(pairs))


def _timezone(name: str | None) -> ZoneInfo | None:
    if name is None:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise PlanError(f"timezone: {name!r} is not a known IANA time zone") from None


def _fixed(raw: dict[str, list[str]], currency: str, max_levels: int) -> dict[str, tuple[int, ...]]:
    fixed = {}
    for sku, amounts in raw.items():
        if not 1 <= len(amounts) <= max_levels:
            raise PlanError(f"fixed_commissions.{sku}: 1 to {max_levels} amounts (one a level)")
        fixed[sku] = tuple(_money(a, currency, f"fixed_commissions.{sku}[{i}]")
                           for i, a in enumerate(amounts))
    return fixed


def _grades(raw: dict[str, RawGrade], currency: str, max_levels: int) -> dict[str, Grade]:
    grades = {}
    for name, grade in raw.items():
        where = f"grades.{name}"
        if not 1 <= len(grade.levels) <= max_levels:
            raise PlanError(f"{where}.levels: 1 to {max_levels} level rates")
        levels = tuple(parse_rate(r, f"{where}.levels[{i}]") for i, r in enumerate(grade.levels))
        threshold = (None if grade.upgrade_at_gmv is None
                     else _money(grade.upgrade_at_gmv, currency, f"{where}.upgrade_at_gmv"))
        grades[name] = Grade(name, levels, threshold)
    return grades


def _campaign(index: int, raw: RawCampaign) -> Campaign:
    where = f"campaigns[{index}]"
    if raw.end <= raw.start:
        raise PlanError(f"{where}.to: must be after `from`")
    _bounded(raw.categories, f"{where}.categories")
    _bounded(raw.merchants, f"{where}.merchants")
    return Campaign(raw.name, raw.start, raw.end,
                    None if raw.categories is None else frozenset(raw.categories),
                    None if raw.merchants is None else frozenset(raw.merchants),
                    parse_rate(raw.bonus, f"{where}.bonus"))


def _caps(raw: RawCaps | None, currency: str) -> Caps | None:
    if raw is None:
        return None
    return Caps(
        None if raw.order_share is None else parse_rate(raw.order_share, "caps.order_share"),
        None if raw.per_order is None else _money(raw.per_order, currency, "caps.per_order"),
        None if raw.per_promoter_day is None
        else _money(raw.per_promoter_day, currency, "caps.per_promoter_day"))


def build_rules(raw: RawRulesInput, currency: str) -> PlanRules | None:
    """The exact rules of a version's v2 keys, or None when it has none (settles as before)."""
    if raw.is_empty():
        return None
    for name in ("payment_channels", "merchant_tiers", "fixed_commissions", "grades", "ladder",
                 "campaigns"):
        _bounded(getattr(raw, name), name)
    max_levels = raw.max_levels if raw.max_levels is not None else 3
    tiers = [(_money(t.from_gmv, currency, f"merchant_tiers[{i}].from_gmv"),
              parse_rate(t.platform_take_rate, f"merchant_tiers[{i}].platform_take_rate"))
             for i, t in enumerate(raw.merchant_tiers or [])]
    bands = [(_money(b.from_gmv, currency, f"ladder[{i}].from_gmv"),
              parse_rate(b.bonus, f"ladder[{i}].bonus")) for i, b in enumerate(raw.ladder or [])]
    return PlanRules(
        timezone=_timezone(raw.timezone),
        channels={name: parse_rate(rate, f"payment_channels.{name}")
                  for name, rate in (raw.payment_channels or {}).items()},
        tiers=_ascending(tiers, "merchant_tiers"),
        fixed=_fixed(raw.fixed_commissions or {}, currency, MAX_CHAIN),
        grades=_grades(raw.grades or {}, currency, MAX_CHAIN),
        ladder=_ascending(bands, "ladder"),
        campaigns=tuple(_campaign(i, c) for i, c in enumerate(raw.campaigns or [])),
        caps=_caps(raw.caps, currency),
        max_levels=max_levels,
        agent_share=(None if raw.regional_agents is None
                     else parse_rate(raw.regional_agents.share, "regional_agents.share")),
    )


class RawRulesInput(BaseModel):
    """The v2 keys as read from YAML (a part of the plan document's model)."""

    model_config = ConfigDict(extra="ignore")
    timezone: str | None = None
    payment_channels: dict[str, str] | None = None
    merchant_tiers: list[RawTier] | None = None
    fixed_commissions: dict[str, list[str]] | None = None
    grades: dict[str, RawGrade] | None = None
    ladder: list[RawBand] | None = None
    campaigns: list[RawCampaign] | None = None
    caps: RawCaps | None = None
    max_levels: int | None = Field(default=None, ge=1, le=3)
    regional_agents: RawAgents | None = None

    def is_empty(self) -> bool:
        return all(getattr(self, name) is None for name in RULE_KEYS)


RULE_KEYS = tuple(RawRulesInput.model_fields)
