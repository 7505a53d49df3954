"""What-if as the growth and finance teams ask it: the cost of the pending (or given) rates over a
past window, exact to the fen, beside what the model predicted the promoters would do.

One service for the CLI (`fenrun rates what-if`), the API (`POST /v1/rates/what-if`) and the
dashboard. The cost is `settlement.whatif_replay.what_if` (re-settled in scratch books); this adds
- the rates: the proposed rate of every pending suggestion that changes a rate (shadow advice
  included: what following it would have cost), unless given;
- the segments: each promoter's segment in the newest promoter value snapshot, when one holds
  segments (`fenrun ltv promoters` after `fenrun train segments`); "(no segment)" otherwise;
- the prediction: the stored suggestions' predicted change per cycle (margin, commission, GMV),
  summed over the promoters re-rated, with their interval ends summed too. Summed interval ends
  are a conservative band (as if every promoter erred the same way), not a joint interval.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import Engine

from serving.config import ServingSettings
from serving.errors import NoSnapshot
from serving.promoter_value import PromoterValueService
from settlement import read_model
from settlement.errors import PlanError
from settlement.rate_suggestions import MAX_LISTED, SuggestionRow
from settlement.whatif import CostChange
from settlement.whatif_replay import what_if

PENDING_SOURCE, GIVEN_SOURCE = "pending suggestions", "given rates"


@dataclass(frozen=True)
class WhatIfReport:
    """The cost change, where its rates came from, and the model's prediction beside it:
    metric -> (delta, low, high) decimal strings per cycle, summed over `suggestions`."""

    change: CostChange
    source: str
    predicted: Mapping[str, tuple[str, str, str]]
    suggestions: int


def pending_suggestions(books: Engine) -> list[SuggestionRow]:
    """Pending suggestions that change a promoter's rate, newest per promoter."""
    with books.connect() as conn:
        rows = read_model.list_suggestions(conn, status="pending", limit=MAX_LISTED)
    newest: dict[str, SuggestionRow] = {}
    for row in rows:  # newest first
        if row.promoter_id not in newest and row.proposed_rate != row.current_rate:
            newest[row.promoter_id] = row
    return list(newest.values())


def predicted_sum(rows: Iterable[SuggestionRow]) -> dict[str, tuple[str, str, str]]:
    """Σ delta, Σ low, Σ high per predicted metric over `rows` (exact decimal sums)."""
    sums: dict[str, list[Decimal]] = {}
    for row in rows:
        for metric, change in row.predicted.items():
            total = sums.setdefault(metric, [Decimal(0)] * 3)
            for index, text in enumerate((change.delta, change.low, change.high)):
                total[index] += Decimal(text)
    return {metric: (str(d), str(lo), str(hi)) for metric, (d, lo, hi) in sorted(sums.items())}


def segment_names(settings: ServingSettings | None) -> dict[str, str]:
    """promoter -> segment name from the newest promoter value snapshot; {} without one."""
    if settings is None:
        return {}
    try:
        report = PromoterValueService(settings).report(None)
    except NoSnapshot:
        return {}
    named = report.promoters.dropna(subset=["segment_name"])
    return dict(zip(named["promoter_id"].astype(str), named["segment_name"].astype(str),
                    strict=True))


def what_if_report(books: Engine, start: datetime, end: datetime,
                   rates: Mapping[str, str] | None = None,
                   settings: ServingSettings | None = None) -> WhatIfReport:
    """Re-settle `start`..`end` under `rates` (default: the pending suggestions' rates)."""
    pending = pending_suggestions(books)
    if rates is None:
        if not pending:
            raise PlanError("rates: no pending suggestion changes a rate; give rates "
                            "(--rates FILE) or run `fenrun rates suggest` first")
        chosen = {row.promoter_id: row.proposed_rate for row in pending}
        source, behind = PENDING_SOURCE, pending
    else:
        chosen, source = dict(rates), GIVEN_SOURCE
        behind = [row for row in pending if row.promoter_id in chosen
                  and _same_rate(chosen[row.promoter_id], row.proposed_rate)]
    change = what_if(books, start, end, chosen, segment_of=segment_names(settings))
    return WhatIfReport(change, source, predicted_sum(behind), len(behind))


def _same_rate(given: str, proposed: str) -> bool:
    try:
        return Decimal(given) == Decimal(proposed)
    except ArithmeticError:  # an invalid given rate: the plan check names it
        return False
