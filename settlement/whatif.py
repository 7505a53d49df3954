"""What-if, the pure half: plan versions with other level-1 rates, and the cost they change.

A what-if asks "had these promoters been on these rates from T1 to T2, what would commission have
cost?". `whatif_replay` re-settles the books' own events in scratch books under
`scenario_versions`; `compare_commissions` then sets the scratch commission of the window beside
the real one, per segment, merchant, level and promoter, in integer minor units. Nothing here is
estimated: both sides are what the settlement rules book, so each breakdown sums exactly to the
total (an invariant that raises), and the cost change is exact to the fen. What customers and
promoters would have *done* differently is the model's prediction, reported beside it by callers.

The rates are plan `promoter_overrides` (a promoter's level-1 base rate): every version in force
during the window gets them (the one in force at T1 is copied to start at T1), so the replay
settles each order by the version in force when it was paid, exactly as real books would have.
Overrides a version already holds are kept unless the scenario names the same promoter.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import yaml

from settlement.errors import LedgerInvariantBroken, PlanError
from settlement.plan import PlanBook, PlanVersion, build_version
from settlement.read_rows import CommissionRow

OVERRIDES_KEY = "promoter_overrides"
MAX_SCENARIO_RATES = 100_000  # promoters one what-if may re-rate
SEVERAL_LEVELS = "several levels"  # a promoter on two levels of one order (rounded as one)
UNSEGMENTED = "(no segment)"


def check_window(start: datetime, end: datetime) -> None:
    """A what-if window: two aware instants, the first before the second."""
    if start.tzinfo is None or end.tzinfo is None:
        raise PlanError("--from/--to: instants need an offset such as Z or +08:00")
    if start >= end:
        raise PlanError(f"--from: {start.isoformat()} must be before --to {end.isoformat()}")


def parse_rates_text(text: str, where: str = "--rates") -> dict[str, str]:
    """A rates file: a YAML (or JSON) mapping promoter id -> level-1 rate as a quoted decimal
    ("0.12"). A YAML number is refused (a float may already have lost a digit); the plan check
    that follows (`scenario_versions`) refuses a rate that is not one."""
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise PlanError(f"{where}: not valid YAML: {error}") from None
    if not isinstance(raw, dict) or not raw:
        raise PlanError(f"{where}: expected a mapping of promoter id to rate, e.g. P1: \"0.12\"")
    rates: dict[str, str] = {}
    for key, value in raw.items():
        if not isinstance(value, str):
            raise PlanError(f"{where}: {key}: {value!r} must be a quoted decimal such as \"0.12\"")
        rates[str(key)] = value
    return rates


def scenario_versions(versions: Sequence[PlanVersion], start: datetime, end: datetime,
                      rates: Mapping[str, str]) -> list[PlanVersion]:
    """The versions to re-settle under: unchanged before `start`; from `start` to `end` every
    version in force gets `rates` as overrides (the one in force at `start` copied to begin
    there). Raises `PlanError` naming the promoter when a rate is not valid for a version."""
    check_window(start, end)
    if not rates:
        raise PlanError("rates: the scenario names no promoter rate")
    if len(rates) > MAX_SCENARIO_RATES:
        raise PlanError(f"rates: {len(rates)} promoters; at most {MAX_SCENARIO_RATES} per what-if")
    book = PlanBook(list(versions))
    in_force = book.version_at(start)  # PlanError when no version covers the window's start
    out = [v for v in book.versions if v.effective_from < start]
    out.append(_with_rates(in_force, start, rates))
    out += [_with_rates(v, v.effective_from, rates) for v in book.versions
            if start < v.effective_from <= end]
    out += [v for v in book.versions if v.effective_from > end]
    return out


def _with_rates(version: PlanVersion, effective_from: datetime,
                rates: Mapping[str, str]) -> PlanVersion:
    document: dict[str, Any] = dict(version.document)
    merged = {**(document.get(OVERRIDES_KEY) or {}), **{k: str(v) for k, v in rates.items()}}
    document.update(effective_from=effective_from, **{OVERRIDES_KEY: merged})
    return build_version(document)


@dataclass(frozen=True, slots=True)
class CostLine:
    """Commission booked in the window for one key: in the books, in the scenario, the change."""

    key: str
    baseline_minor: int
    scenario_minor: int

    @property
    def change_minor(self) -> int:
        return self.scenario_minor - self.baseline_minor


@dataclass(frozen=True, slots=True)
class CostChange:
    """The commission cost of a window in the books and under the scenario, exact in minor
    units of `currency`; each breakdown sums to `total`. Lines are largest change first."""

    currency: str
    start: datetime
    end: datetime
    rates: Mapping[str, str]
    total: CostLine
    by_segment: tuple[CostLine, ...]
    by_merchant: tuple[CostLine, ...]
    by_level: tuple[CostLine, ...]
    by_promoter: tuple[CostLine, ...]


def _in_window(rows: Iterable[CommissionRow], start: datetime,
               end: datetime) -> list[CommissionRow]:
    return [row for row in rows if start <= row.occurred_at <= end]


def _level_name(level: int | None) -> str:
    return SEVERAL_LEVELS if level is None else f"level {level}"


def _breakdown(baseline: Sequence[CommissionRow], scenario: Sequence[CommissionRow],
               key: Callable[[CommissionRow], str], total: CostLine) -> tuple[CostLine, ...]:
    sums: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for side, rows in enumerate((baseline, scenario)):
        for row in rows:
            sums[key(row)][side] += row.amount_minor
    lines = tuple(sorted((CostLine(k, b, s) for k, (b, s) in sums.items()),
                         key=lambda line: (-abs(line.change_minor), line.key)))
    if (sum(line.baseline_minor for line in lines) != total.baseline_minor
            or sum(line.scenario_minor for line in lines) != total.scenario_minor):
        raise LedgerInvariantBroken("what-if: a breakdown does not add up to the total")
    return lines


def compare_commissions(baseline: Iterable[CommissionRow], scenario: Iterable[CommissionRow], *,
                        start: datetime, end: datetime, currency: str,
                        rates: Mapping[str, str], merchant_of: Mapping[str, str],
                        segment_of: Mapping[str, str] | None = None) -> CostChange:
    """Commission booked from `start` to `end` (inclusive) in the books (`baseline`, rows with
    levels) against the scenario's, per segment (of the earning promoter; `UNSEGMENTED` when
    `segment_of` does not know them), merchant (of the order), level and promoter."""
    check_window(start, end)
    before, after = _in_window(baseline, start, end), _in_window(scenario, start, end)
    total = CostLine("total", sum(r.amount_minor for r in before),
                     sum(r.amount_minor for r in after))
    segments = segment_of or {}
    missing = {r.order_id for r in (*before, *after)} - set(merchant_of)
    if missing:
        raise LedgerInvariantBroken(f"what-if: orders {sorted(missing)[:5]} have no merchant")
    return CostChange(
        currency=currency, start=start, end=end, rates=dict(rates), total=total,
        by_segment=_breakdown(before, after,
                              lambda r: segments.get(r.promoter_id, UNSEGMENTED), total),
        by_merchant=_breakdown(before, after, lambda r: merchant_of[r.order_id], total),
        by_level=_breakdown(before, after, lambda r: _level_name(r.level), total),
        by_promoter=_breakdown(before, after, lambda r: r.promoter_id, total),
    )
