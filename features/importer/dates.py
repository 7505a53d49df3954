"""Reading the instants a mall's export writes, each form explicit and unambiguous.

Accepted without options (naive values are read in the `--timezone` zone):
- ISO-8601: `2026-03-01`, `2026-03-01 10:15`, `2026-03-01T10:15:00.5+08:00`, `...Z`;
- year first with slashes or short dashes: `2026/03/01`, `2026/3/1 10:15[:00]`, `2026-3-1`;
- Chinese: `2026年3月1日`, `2026年3月1日 10:15[:00]`;
- day first with dots (the German/Russian convention): `01.03.2026`, `01.03.2026 10:15[:00]`;
- epoch seconds (9-10 digits, optional fraction) or epoch milliseconds (13 digits), always UTC.
Refused unless `--date-format` (a `strptime` pattern) says how to read them: `01/03/2026` and
`01-03-2026` (day or month first?), two-digit years, and 8-digit numbers (`20260301` or epoch?).
A naive local time that a daylight-saving change makes ambiguous or impossible is refused too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from features.importer.errors import FieldProblem, ImportOptionError

_TIME = r"(?:[ T]+(?P<H>\d{1,2})[:：](?P<M>\d{2})(?:[:：](?P<S>\d{2}))?)?"
_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?)?"
                  r"(?:Z|[+-]\d{2}(?::?\d{2})?)?$")
_YEAR_FIRST = re.compile(r"^(?P<y>\d{4})(?P<sep>[/-])(?P<m>\d{1,2})(?P=sep)(?P<d>\d{1,2})"
                         + _TIME + "$")
_CHINESE = re.compile(r"^(?P<y>\d{4})年(?P<m>\d{1,2})月(?P<d>\d{1,2})日?"
                      + _TIME.replace("[ T]+", r"\s*") + "$")
_DOTTED = re.compile(r"^(?P<d>\d{1,2})\.(?P<m>\d{1,2})\.(?P<y>\d{4})" + _TIME + "$")
_AMBIGUOUS = re.compile(r"^\d{1,2}[/.-]\d{1,2}[/.-]\d{2,4}\b")
_EPOCH_S = re.compile(r"^\d{9,10}(?:\.\d{1,6})?$")
_EPOCH_MS = re.compile(r"^\d{13}$")
_OFFSET = re.compile(r"^(?:UTC)?([+-])(\d{2}):?(\d{2})$")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class DateRules:
    """How to read instants: the zone of naive values and an optional explicit pattern."""

    zone: tzinfo = UTC
    date_format: str | None = None


def parse_zone(name: str) -> tzinfo:
    """`UTC`, an IANA name such as `Asia/Shanghai`, or a fixed offset such as `+08:00`."""
    if name.upper() in ("UTC", "Z"):
        return UTC
    match = _OFFSET.match(name.strip())
    if match:
        sign = -1 if match.group(1) == "-" else 1
        offset = timedelta(hours=int(match.group(2)), minutes=int(match.group(3)))
        if offset >= timedelta(hours=24):
            raise ImportOptionError("--timezone", name, "offset must be less than 24 hours")
        return timezone(sign * offset)
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ImportOptionError("--timezone", name,
                                "not a time zone: use UTC, +08:00 or a name like Asia/Shanghai"
                                ) from None


def localize(naive: datetime, zone: tzinfo, field: str, text: str) -> datetime:
    """Attach `zone` to a wall-clock time, refusing times a DST change makes ambiguous or void."""
    first = naive.replace(tzinfo=zone, fold=0)
    second = naive.replace(tzinfo=zone, fold=1)
    if first.utcoffset() != second.utcoffset():
        round_trip = first.astimezone(UTC).astimezone(zone).replace(tzinfo=None)
        what = "is ambiguous (clocks went back)" if round_trip == naive else "does not exist"
        raise FieldProblem(field, text, f"local time {what} in {zone}; give an offset")
    return first.astimezone(UTC)


def _from_match(match: re.Match[str], field: str, text: str) -> datetime:
    """A naive datetime from the named groups y, m, d and optional H, M, S."""
    parts = {name: int(value) for name, value in match.groupdict().items()
             if value and name != "sep"}
    try:
        return datetime(parts["y"], parts["m"], parts["d"], parts.get("H", 0), parts.get("M", 0),
                        parts.get("S", 0))
    except ValueError as error:
        raise FieldProblem(field, text, f"not a valid date ({error})") from None


def _epoch(text: str) -> datetime:
    """Epoch seconds (with an optional fraction) or milliseconds, exactly (no float)."""
    if _EPOCH_MS.match(text):
        return EPOCH + timedelta(milliseconds=int(text))
    whole, _, frac = text.partition(".")
    return EPOCH + timedelta(seconds=int(whole), microseconds=int(frac.ljust(6, "0") or "0"))


def _automatic(text: str, field: str) -> datetime:
    """A naive or aware datetime from one of the unambiguous forms, or a `FieldProblem`."""
    if _ISO.match(text):
        try:
            return datetime.fromisoformat(text)
        except ValueError as error:
            raise FieldProblem(field, text, f"not a valid ISO-8601 instant ({error})") from None
    for pattern in (_YEAR_FIRST, _CHINESE, _DOTTED):
        match = pattern.match(text)
        if match:
            return _from_match(match, field, text)
    if _EPOCH_S.match(text) or _EPOCH_MS.match(text):
        return _epoch(text)
    if _AMBIGUOUS.match(text):
        raise FieldProblem(field, text, "day/month order (or century) is ambiguous; pass "
                                        "--date-format, e.g. %d/%m/%Y or %m/%d/%Y")
    if text.isdigit():
        raise FieldProblem(field, text, "a number that is neither epoch seconds (10 digits) nor "
                                        "milliseconds (13); for YYYYMMDD pass --date-format %Y%m%d")
    raise FieldProblem(field, text, "not a date/time in a known form (ISO-8601, YYYY/MM/DD, "
                                    "DD.MM.YYYY, YYYY年M月D日, epoch seconds)")


def parse_instant(text: str, field: str, rules: DateRules) -> datetime:
    """An aware UTC datetime from one cell; `--date-format` is tried first when given."""
    value = text.strip()
    parsed: datetime | None = None
    if rules.date_format:
        try:
            parsed = datetime.strptime(value, rules.date_format)
        except ValueError:
            parsed = None
    if parsed is None:
        try:
            parsed = _automatic(value, field)
        except FieldProblem as problem:
            if rules.date_format:
                reason = f"does not match --date-format {rules.date_format}; {problem.reason}"
                raise FieldProblem(field, text, reason) from None
            raise
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        return localize(parsed, rules.zone, field, text)
    return parsed.astimezone(UTC)
