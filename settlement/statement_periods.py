"""Statement periods: a day (`2026-03-15`), an ISO week (`2026-W11`) or a month (`2026-03`),
each a half-open UTC interval [start, end); and the last complete period of a cycle."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from typing import NamedTuple

from settlement.errors import InvalidEvent

CYCLES = ("daily", "weekly", "monthly")
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_WEEK = re.compile(r"^(\d{4})-W(\d{2})$")
_DAY = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")


class Period(NamedTuple):
    label: str
    start: datetime
    end: datetime  # exclusive
    cycle: str


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def _month(year: int, month: int) -> Period:
    start = datetime(year, month, 1, tzinfo=UTC)
    end = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=UTC)
    return Period(f"{year:04d}-{month:02d}", start, end, "monthly")


def _week(year: int, week: int) -> Period:
    monday = date.fromisocalendar(year, week, 1)
    return Period(f"{year:04d}-W{week:02d}", _midnight(monday),
                  _midnight(monday + timedelta(days=7)), "weekly")


def _day(day: date) -> Period:
    return Period(day.isoformat(), _midnight(day), _midnight(day + timedelta(days=1)), "daily")


def parse_period(text: str, field: str = "period") -> Period:
    """`2026-03`, `2026-W11` or `2026-03-15` as a Period; InvalidEvent naming the field else."""
    try:
        if match := _MONTH.match(text):
            year, month = int(match[1]), int(match[2])
            if not 1 <= month <= 12:
                raise ValueError("month")
            return _month(year, month)
        if match := _WEEK.match(text):
            return _week(int(match[1]), int(match[2]))
        if match := _DAY.match(text):
            return _day(date(int(match[1]), int(match[2]), int(match[3])))
    except ValueError:
        pass
    raise InvalidEvent(field, text, "a period is a month (2026-03), an ISO week (2026-W11) or a "
                                    "day (2026-03-15)")


def last_complete(cycle: str, now: datetime) -> Period:
    """The newest period of `cycle` that ended by `now`."""
    today = now.astimezone(UTC).date()
    if cycle == "daily":
        return _day(today - timedelta(days=1))
    if cycle == "weekly":
        year, week, _ = (today - timedelta(days=7)).isocalendar()
        return _week(year, week)
    if cycle == "monthly":
        first = today.replace(day=1) - timedelta(days=1)
        return _month(first.year, first.month)
    raise InvalidEvent("cycle", cycle, f"must be one of {', '.join(CYCLES)}")
