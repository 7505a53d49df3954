"""The mall's promotion calendar: days it plans in advance, a known future covariate.

A mall fixes 双11 or 618 months ahead, so the *dates* of past and coming promotions are known at
any cutoff and may describe the forecast horizon without leaking anything. The calendar holds
only dates and a kind per date (e.g. `main`, `warmup`), in the mall's own time zone; how much a
kind lifts spending is never written here, it is estimated from the history
(`training.ltv.seasonality`). No calendar (the default, e.g. imported books) means every day is
ordinary and the forecast level stationary.

File format (YAML), one entry per day or per inclusive range:

    timezone: Asia/Shanghai
    promotions:
      - {date: 2026-11-11, kind: main, name: 双11}
      - {from: 2026-11-01, to: 2026-11-10, kind: warmup, name: 双11 预售}
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

MAX_CALENDAR_DAYS = 3660  # ten years of promotion days is far more than any mall plans
MAX_RANGE_DAYS = 62  # a longer "promotion" is a season, which the calendar is not for
ORDINARY = ""  # kind of a day that is not in the calendar


class CalendarError(ValueError):
    """The promotion calendar is malformed (the message names the field and the value)."""


@dataclass(frozen=True)
class PromotionCalendar:
    """Promotion days by local date in `timezone`, each with its kind."""

    timezone: str = "UTC"
    days: Mapping[date, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise CalendarError(f"timezone: {self.timezone!r} is not a known zone") from error
        if len(self.days) > MAX_CALENDAR_DAYS:
            raise CalendarError(f"promotions: {len(self.days)} days, more than "
                                f"{MAX_CALENDAR_DAYS}")

    @property
    def empty(self) -> bool:
        return not self.days

    @property
    def kinds(self) -> list[str]:
        """The distinct kinds, sorted."""
        return sorted(set(self.days.values()))


NO_CALENDAR = PromotionCalendar()


def _day(value: Any, name: str) -> date:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError as error:
        raise CalendarError(f"{name}: {value!r} is not a date (YYYY-MM-DD)") from error


def _entry_days(entry: Any, index: int) -> tuple[list[date], str]:
    where = f"promotions[{index}]"
    if not isinstance(entry, Mapping):
        raise CalendarError(f"{where}: {entry!r} is not a mapping")
    kind = str(entry.get("kind", "promotion")).strip()
    if not kind:
        raise CalendarError(f"{where}.kind: {entry.get('kind')!r} is empty")
    if "date" in entry:
        return [_day(entry["date"], f"{where}.date")], kind
    if "from" not in entry or "to" not in entry:
        raise CalendarError(f"{where}: {dict(entry)!r} needs `date` or both `from` and `to`")
    first, last = _day(entry["from"], f"{where}.from"), _day(entry["to"], f"{where}.to")
    span = (last - first).days + 1
    if not 1 <= span <= MAX_RANGE_DAYS:
        raise CalendarError(f"{where}: from {first} to {last} spans {span} days, not "
                            f"1..{MAX_RANGE_DAYS}")
    return [first + timedelta(days=i) for i in range(span)], kind


def parse_calendar(text: str) -> PromotionCalendar:
    """A calendar from its YAML text (see the module docstring); a day listed twice must agree."""
    try:  # BaseLoader: every scalar stays a string, dates are checked here with their field name
        body = yaml.load(text, Loader=yaml.BaseLoader) or {}  # noqa: S506 - BaseLoader is safe
    except yaml.YAMLError as error:
        raise CalendarError(f"calendar: not valid YAML ({error})") from error
    if not isinstance(body, Mapping):
        raise CalendarError(f"calendar: {body!r} is not a mapping")
    entries = body.get("promotions") or []
    if not isinstance(entries, list):
        raise CalendarError(f"promotions: {entries!r} is not a list")
    days: dict[date, str] = {}
    for index, entry in enumerate(entries):
        listed, kind = _entry_days(entry, index)
        for day in listed:
            if days.get(day, kind) != kind:
                raise CalendarError(f"promotions[{index}]: {day} is already a {days[day]!r} day")
            days[day] = kind
    return PromotionCalendar(str(body.get("timezone", "UTC")), days)


def load_calendar(path: str | Path | None) -> PromotionCalendar:
    """The calendar in the file at `path`, or no calendar when `path` is None."""
    if path is None:
        return NO_CALENDAR
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as error:
        raise CalendarError(f"calendar: cannot read {str(path)!r} ({error})") from error
    return parse_calendar(text)
