"""Promoter terms (plans v2, issue 15): a promoter's own hold and a monthly guarantee.

`promoter_terms: {P9: {hold_days: 0}, P12: {guarantee: {per_month: "200.00", months: 3}}}`.
`hold_days` replaces the plan's hold for orders whose level-1 promoter it is (see
`PlanVersion.hold_days_of` and `engine.Settler._order_confirmed`); a guarantee tops a promoter's
level-1 commission of each local calendar month up to `per_month` for the first `months` months
of the terms (`settlement.guarantees` posts it). Pure values and validation here, no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field

from settlement.errors import InvalidEvent, PlanError
from settlement.money import parse_amount

MAX_TERMS = 1_000  # promoters a version may name in `promoter_terms`
MAX_HOLD_DAYS = 365
MAX_GUARANTEE_MONTHS = 36


class RawGuarantee(BaseModel):
    model_config = ConfigDict(extra="forbid")
    per_month: str
    months: int = Field(ge=1, le=MAX_GUARANTEE_MONTHS)


class RawPromoterTerms(BaseModel):
    model_config = ConfigDict(extra="forbid")
    hold_days: int | None = Field(default=None, ge=0, le=MAX_HOLD_DAYS)
    guarantee: RawGuarantee | None = None


@dataclass(frozen=True, slots=True)
class PromoterTerms:
    hold_days: int | None = None  # None: the plan's hold
    per_month_minor: int | None = None  # None: no guarantee in this version
    months: int = 0


@dataclass(frozen=True, slots=True)
class Guarantee:
    """A promoter's guarantee as the book keeps it: from the first version that names one."""

    promoter_id: str
    start: datetime  # the terms start: that version's effective instant (UTC)
    timezone: ZoneInfo | None  # that version's calendar (None: UTC)
    per_month_minor: int
    months: int
    version_id: str

    def month_labels(self) -> list[str]:
        """The guaranteed local months, YYYY-MM: the month holding `start` is the first."""
        local = self.start.astimezone(self.timezone or UTC)
        year, month = local.year, local.month
        labels = []
        for _ in range(self.months):
            labels.append(f"{year:04d}-{month:02d}")
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        return labels

    def month_bounds(self, label: str) -> tuple[datetime, datetime]:
        """The UTC instants [start, end) of a local month YYYY-MM in the guarantee's calendar."""
        year, month = int(label[:4]), int(label[5:7])
        zone = self.timezone or UTC
        nxt = (year + 1, 1) if month == 12 else (year, month + 1)
        begin = datetime(year, month, 1, tzinfo=zone).astimezone(UTC)
        end = datetime(nxt[0], nxt[1], 1, tzinfo=zone).astimezone(UTC)
        return begin, end


@dataclass(frozen=True, slots=True)
class GuaranteeMonth:
    """One guaranteed month as posted (read back for the explanation)."""

    promoter_id: str
    month: str  # local YYYY-MM in the guarantee's calendar
    per_month_minor: int
    commission_minor: int  # the month's level-1 commission when it was posted
    topup_minor: int
    entry_id: str  # the journal entry (none is booked for a top-up of 0)
    version_id: str  # the version whose terms gave the guarantee


def topup_minor(per_month_minor: int, commission_minor: int) -> int:
    """What tops a month's level-1 commission up to the floor (never negative)."""
    return max(0, per_month_minor - commission_minor)


def build_terms(raw: dict[str, RawPromoterTerms] | None, currency: str
                ) -> dict[str, PromoterTerms]:
    """Exact terms of a version; errors name the key (`promoter_terms.P12.guarantee...`)."""
    if not raw:
        return {}
    if len(raw) > MAX_TERMS:
        raise PlanError(f"promoter_terms: at most {MAX_TERMS} promoters are allowed")
    terms = {}
    for promoter_id, entry in raw.items():
        where = f"promoter_terms.{promoter_id}"
        if not promoter_id.strip():
            raise PlanError("promoter_terms: a promoter id must be a non-empty string")
        if entry.hold_days is None and entry.guarantee is None:
            raise PlanError(f"{where}: name hold_days, a guarantee or both")
        per_month, months = None, 0
        if entry.guarantee is not None:
            field_name = f"{where}.guarantee.per_month"
            try:
                per_month = parse_amount(entry.guarantee.per_month, currency, field_name)
            except InvalidEvent as error:
                raise PlanError(str(error)) from None
            if per_month == 0:
                raise PlanError(f"{field_name}: a guarantee of 0 guarantees nothing")
            months = entry.guarantee.months
        terms[promoter_id] = PromoterTerms(entry.hold_days, per_month, months)
    return terms


def first_guarantees(versions: Iterable[tuple[str, datetime, ZoneInfo | None,
                                              dict[str, PromoterTerms]]]
                     ) -> dict[str, Guarantee]:
    """Each promoter's guarantee from the earliest version (in `effective_from` order) naming
    one: a guarantee is a promise, later versions neither move, change nor end it."""
    found: dict[str, Guarantee] = {}
    for version_id, start, zone, terms in versions:
        for promoter_id, entry in sorted(terms.items()):
            if entry.per_month_minor is not None and promoter_id not in found:
                found[promoter_id] = Guarantee(promoter_id, start, zone, entry.per_month_minor,
                                               entry.months, version_id)
    return found
