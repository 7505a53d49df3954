"""Commission plans: versioned rules for splitting each sale, read from YAML.

A plan file holds one or more versions (YAML documents separated by `---`), each with an
`effective_from` instant. An order is settled by the version in force when it was paid, so a rate
change never rewrites history. Rates are exact fractions; a plan that could pay out more than a
line is worth, or more than three levels, is rejected before anything is settled.
"""

from __future__ import annotations

import hashlib
import json
from bisect import bisect_right
from dataclasses import dataclass, field
from datetime import UTC, datetime
from fractions import Fraction
from math import lcm
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from settlement.errors import InvalidEvent, PlanError
from settlement.money import minor_digits, parse_amount, parse_rate
from settlement.plan_rules import RULE_KEYS, PlanRules, RawRulesInput, build_rules
from settlement.promoter_terms import (
    Guarantee,
    PromoterTerms,
    RawPromoterTerms,
    build_terms,
    first_guarantees,
)

MAX_LEVELS = 3  # compliance: commission on real sales only, at most three levels
AttributionModel = Literal["first_click", "last_click", "linear", "time_decay", "position"]


class _Attribution(BaseModel):
    model_config = ConfigDict(extra="forbid")
    model: AttributionModel
    lookback_days: int = Field(gt=0, le=3650)
    first: str | None = None
    last: str | None = None
    half_life_days: float | str | None = None


class _Category(BaseModel):
    model_config = ConfigDict(extra="forbid")
    levels: list[str] | None = None
    platform_take_rate: str | None = None


class _PlanDocument(RawRulesInput):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    effective_from: datetime
    currency: str
    platform_take_rate: str
    levels: list[str]
    attribution: _Attribution
    customer_binding: Literal["lifetime", "none"] = "lifetime"
    hold_days: int = Field(ge=0, le=365)
    payout_minimum: str
    review_limit: str
    categories: dict[str, _Category] = Field(default_factory=dict)
    promoter_overrides: dict[str, str] | None = None
    promoter_terms: dict[str, RawPromoterTerms] | None = None

    @field_validator("effective_from")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("needs an offset such as Z or +08:00")
        return value.astimezone(UTC)


@dataclass(frozen=True, slots=True)
class AttributionRule:
    model: str
    lookback_days: int
    first: Fraction = Fraction(0)
    last: Fraction = Fraction(0)
    half_life_days: Fraction = Fraction(0)


@dataclass(frozen=True, slots=True)
class CategoryRates:
    """Rates of one category, also as integers over the plan's common `rate_scale`.

    The integer form lets a split sum amount × rate exactly without building fractions per line.
    """

    levels: tuple[Fraction, ...]
    platform_take_rate: Fraction
    levels_scaled: tuple[int, ...] = ()
    take_scaled: int = 0
    own_levels: bool = False  # a category entry with its own `levels` (wins over overrides)
    own_take: bool = False  # a category entry with its own take rate (wins over merchant tiers)

    def scaled(self, scale: int) -> CategoryRates:
        return CategoryRates(self.levels, self.platform_take_rate,
                             tuple(int(rate * scale) for rate in self.levels),
                             int(self.platform_take_rate * scale), self.own_levels,
                             self.own_take)


@dataclass(frozen=True, slots=True)
class PlanVersion:
    """One version of the commission plan, with every rate exact."""

    effective_from: datetime
    currency: str
    default_rates: CategoryRates
    categories: dict[str, CategoryRates]
    attribution: AttributionRule
    customer_binding: str
    hold_days: int
    payout_minimum_minor: int
    review_limit_minor: int
    document: dict[str, Any]
    content_hash: str
    rate_scale: int = 1  # common denominator of every rate in the version
    # Level-1 base rate of one promoter (over `rate_scale`): below a category's own levels,
    # above the plan's `levels`. Empty when the version has no `promoter_overrides`.
    overrides_scaled: dict[str, int] = field(default_factory=dict)
    # The v2 keys (channels, tiers, fixed, grades, ladder, campaigns, caps, max_levels, agents);
    # None when the version has none of them: it settles exactly as a v1 plan.
    rules: PlanRules | None = None
    grades_scaled: dict[str, tuple[int, ...]] = field(default_factory=dict)  # over `rate_scale`
    ladder_scaled: dict[int, int] = field(default_factory=dict)  # band start -> bonus, scaled
    # Hold days and guarantees of named promoters (`promoter_terms`); empty without the key.
    # Not a v2 rule: a version whose only new key it is still settles on the v1 path.
    promoter_terms: dict[str, PromoterTerms] = field(default_factory=dict)

    version_id: str = ""  # the effective instant in canonical UTC form (set by build_version)

    def rates_for(self, category: str) -> CategoryRates:
        return self.categories.get(category, self.default_rates)

    def hold_days_of(self, promoter_id: str) -> int:
        """The hold of one promoter's commissions: its terms' `hold_days`, else the plan's."""
        terms = self.promoter_terms.get(promoter_id)
        if terms is None or terms.hold_days is None:
            return self.hold_days
        return terms.hold_days


def _rates(levels: list[str], take: str, where: str, own: bool = False,
           own_take: bool = False) -> CategoryRates:
    if len(levels) > MAX_LEVELS:
        raise PlanError(
            f"{where}levels: {len(levels)} levels configured; at most {MAX_LEVELS} are allowed "
            "(commission only on real sales, never for recruiting)"
        )
    if not levels:
        raise PlanError(f"{where}levels: at least one level rate is needed")
    level_rates = tuple(parse_rate(r, f"{where}levels[{i}]") for i, r in enumerate(levels))
    take_rate = parse_rate(take, f"{where}platform_take_rate")
    if take_rate + sum(level_rates) > 1:
        raise PlanError(f"{where}platform_take_rate plus level rates exceed 1: merchant would pay")
    return CategoryRates(level_rates, take_rate, own_levels=own, own_take=own_take)


def _overrides(raw: dict[str, str] | None, plain: list[tuple[str, CategoryRates]]
               ) -> dict[str, Fraction]:
    """Each promoter's level-1 rate; refused where, with the take and the higher levels of a
    category that uses it (one without its own `levels`), it would exceed the line."""
    overrides: dict[str, Fraction] = {}
    for promoter_id, text in (raw or {}).items():
        where = f"promoter_overrides.{promoter_id}"
        if not promoter_id.strip():
            raise PlanError("promoter_overrides: a promoter id must be a non-empty string")
        rate = parse_rate(text, where)
        for name, rates in plain:
            if rate + rates.platform_take_rate + sum(rates.levels[1:]) > 1:
                raise PlanError(f"{where}: {text} plus the platform take and levels 2-3 of "
                                f"{name} exceed 1: merchant would pay")
        overrides[promoter_id] = rate
    return overrides


def _attribution(raw: _Attribution) -> AttributionRule:
    if raw.model == "position":
        first = parse_rate(raw.first if raw.first is not None else "0.4", "attribution.first")
        last = parse_rate(raw.last if raw.last is not None else "0.4", "attribution.last")
        if first + last > 1 or first + last == 0:
            raise PlanError("attribution: first + last must be above 0 and at most 1")
        return AttributionRule(raw.model, raw.lookback_days, first=first, last=last)
    if raw.model == "time_decay":
        if raw.half_life_days is None:
            raise PlanError("attribution.half_life_days: required for the time_decay model")
        half_life = Fraction(str(raw.half_life_days))
        if half_life <= 0:
            raise PlanError("attribution.half_life_days: must be positive")
        return AttributionRule(raw.model, raw.lookback_days, half_life_days=half_life)
    return AttributionRule(raw.model, raw.lookback_days)


def _money(text: str, currency: str, field: str) -> int:
    try:
        return parse_amount(text, currency, field)
    except InvalidEvent as error:
        raise PlanError(str(error)) from None


def _canonical(document: dict[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(document, default=str, sort_keys=True))


# Plans v2 keys: absent = off, and left out of the version's document.
_OPTIONAL_KEYS = ("promoter_overrides", "promoter_terms", *RULE_KEYS)


def _check_rules(rules: PlanRules, default_rates: CategoryRates) -> None:
    """A tier take or a grade's levels that, with the rest, would exceed a line are refused."""
    levels_total = sum(default_rates.levels)
    for index, (_, rate) in enumerate(rules.tiers):
        if rate + levels_total > 1:
            raise PlanError(f"merchant_tiers[{index}].platform_take_rate plus level rates "
                            "exceed 1: merchant would pay")
    for name, grade in rules.grades.items():
        if default_rates.platform_take_rate + sum(grade.levels) > 1:
            raise PlanError(f"grades.{name}.levels plus platform_take_rate exceed 1: "
                            "merchant would pay")


def build_version(document: dict[str, Any]) -> PlanVersion:
    """Validate one YAML document and return the exact plan version it describes."""
    try:
        raw = _PlanDocument.model_validate(document)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        given = first.get("input")
        if isinstance(given, int | float) and not isinstance(given, bool) and (
                first["type"] == "string_type"):
            raise PlanError(
                f"{where}: {given!r} was read as a YAML number; quote decimals such as "
                f"\"0.05\" or \"100.00\" so that no digit is lost to a float") from None
        raise PlanError(f"{where}: {first['msg']}") from None
    try:
        minor_digits(raw.currency)
    except InvalidEvent as error:
        raise PlanError(str(error)) from None
    categories = {
        name: _rates(
            cat.levels if cat.levels is not None else raw.levels,
            cat.platform_take_rate or raw.platform_take_rate,
            f"categories.{name}.",
            own=cat.levels is not None,
            own_take=cat.platform_take_rate is not None,
        )
        for name, cat in raw.categories.items()
    }
    # Keys a version leaves out are not written into its document, so that a plan without the
    # newer keys keeps the content hash (and the stored text) it always had.
    dumped = raw.model_dump(mode="json", by_alias=True,
                            exclude={k for k in _OPTIONAL_KEYS if getattr(raw, k) is None})
    canonical = _canonical({**dumped, "effective_from": raw.effective_from})
    default_rates = _rates(raw.levels, raw.platform_take_rate, "")
    plain = [("levels", default_rates)] + [
        (f"categories.{name}", rates) for name, rates in categories.items()
        if not rates.own_levels]
    overrides = _overrides(raw.promoter_overrides, plain)
    rules = build_rules(raw, raw.currency)
    if rules is not None:
        _check_rules(rules, default_rates)
    every_rate = [r for rates in (default_rates, *categories.values())
                  for r in (*rates.levels, rates.platform_take_rate)] + list(overrides.values())
    every_rate += rules.rates() if rules is not None else []
    scale = lcm(*(rate.denominator for rate in every_rate))
    return PlanVersion(
        effective_from=raw.effective_from,
        currency=raw.currency,
        default_rates=default_rates.scaled(scale),
        categories={name: rates.scaled(scale) for name, rates in categories.items()},
        attribution=_attribution(raw.attribution),
        customer_binding=raw.customer_binding,
        hold_days=raw.hold_days,
        payout_minimum_minor=_money(raw.payout_minimum, raw.currency, "payout_minimum"),
        review_limit_minor=_money(raw.review_limit, raw.currency, "review_limit"),
        document=canonical,
        content_hash=hashlib.sha256(json.dumps(canonical, sort_keys=True).encode()).hexdigest(),
        rate_scale=scale,
        overrides_scaled={pid: int(rate * scale) for pid, rate in overrides.items()},
        rules=rules,
        ladder_scaled={} if rules is None else {start: int(bonus * scale)
                                                 for start, bonus in rules.ladder},
        grades_scaled={} if rules is None else {
            name: tuple(int(rate * scale) for rate in grade.levels)
            for name, grade in rules.grades.items()},
        version_id=raw.effective_from.strftime("%Y-%m-%dT%H:%M:%SZ"),
        promoter_terms=build_terms(raw.promoter_terms, raw.currency),
    )


def plan_warnings(version: PlanVersion) -> list[str]:
    """What a plans v2 version allows that a person should know before storing it: fixed
    commissions without caps, and rates that together can exceed a line, both of which can make
    a merchant's remainder negative (the plan's choice; the books stay balanced)."""
    rules = version.rules
    if rules is None:
        return []
    warnings = []
    if rules.fixed and (rules.caps is None or (rules.caps.order_share is None
                                               and rules.caps.per_order_minor is None)):
        warnings.append("fixed_commissions without caps.order_share or caps.per_order: a "
                        "merchant's remainder can be negative")
    worst = Fraction(0)
    for rates in (version.default_rates, *version.categories.values()):
        levels = [list(rates.levels)]
        if not rates.own_levels:
            levels += [list(g.levels) for g in rules.grades.values()]
        by_level = [max((lv[i] for lv in levels if i < len(lv)), default=Fraction(0))
                    for i in range(rules.max_levels)]
        if by_level and not rates.own_levels and version.overrides_scaled:
            by_level[0] = max(by_level[0], Fraction(max(version.overrides_scaled.values()),
                                                     version.rate_scale))
        take = rates.platform_take_rate if rates.own_take else max(
            [rates.platform_take_rate, *(rate for _, rate in rules.tiers)])
        worst = max(worst, take + sum(by_level, Fraction(0)))
    worst += max((bonus for _, bonus in rules.ladder), default=Fraction(0))
    worst += sum((c.bonus for c in rules.campaigns), Fraction(0))
    worst += (rules.agent_share or 0) + max(rules.channels.values(), default=Fraction(0))
    if worst > 1:
        warnings.append(f"rates, bonuses, agent share and payment fee can add up to {worst} of a "
                        "line: a merchant's remainder can be negative")
    return warnings


def parse_plan_text(text: str) -> list[PlanVersion]:
    """Every version in a (possibly multi-document) YAML plan, sorted by `effective_from`."""
    try:
        documents = [doc for doc in yaml.safe_load_all(text) if doc is not None]
    except yaml.YAMLError as error:
        raise PlanError(f"plan is not valid YAML: {error}") from None
    if not documents:
        raise PlanError("plan file holds no version")
    versions = []
    for index, document in enumerate(documents):
        if not isinstance(document, dict):
            raise PlanError(f"document {index + 1}: a plan version must be a mapping")
        versions.append(build_version(document))
    book = PlanBook(versions).versions
    check_one_currency(book, book[0].currency)
    return book


def check_one_currency(versions: list[PlanVersion], books_currency: str) -> None:
    """Refuse a version that settles in another currency than the books.

    Orders must be in the currency of the version in force, so such a version would be accepted
    and then every order it governs rejected; better to say so when the plan is stored.
    """
    for version in versions:
        if version.currency != books_currency:
            raise PlanError(
                f"currency: version {version.version_id} settles in {version.currency} but the "
                f"books settle in {books_currency}; one set of books holds one currency")


class PlanBook:
    """All known plan versions, answering "which version was in force at this instant?"."""

    def __init__(self, versions: list[PlanVersion]) -> None:
        by_id: dict[str, PlanVersion] = {}
        for version in versions:
            known = by_id.get(version.version_id)
            if known is not None and known.content_hash != version.content_hash:
                raise PlanError(
                    f"effective_from: version {version.version_id} is given twice with different "
                    "content; a published version never changes, add a new one instead"
                )
            by_id[version.version_id] = version
        self.versions = sorted(by_id.values(), key=lambda v: v.effective_from)
        self._starts = [v.effective_from for v in self.versions]
        self._by_id = by_id
        # Some version reads the plans v2 accumulators, so every applied order adds to them.
        self.keeps_tallies = any(v.rules is not None for v in self.versions)
        # promoter -> the guarantee of the first version naming one for it (fixed from then on)
        self.guarantees: dict[str, Guarantee] = first_guarantees(
            (v.version_id, v.effective_from, v.rules.timezone if v.rules is not None else None,
             v.promoter_terms) for v in self.versions)

    def version_at(self, instant: datetime) -> PlanVersion:
        index = bisect_right(self._starts, instant)
        if index == 0:
            raise PlanError(f"no plan version is in force at {instant.isoformat()}")
        return self.versions[index - 1]

    def by_id(self, version_id: str) -> PlanVersion:
        try:
            return self._by_id[version_id]
        except KeyError:
            raise PlanError(f"plan version {version_id} is not known") from None

    @property
    def max_lookback_days(self) -> int:
        return max((v.attribution.lookback_days for v in self.versions), default=0)

    def __bool__(self) -> bool:
        return bool(self.versions)
