"""Did the rate changes pay? Treated against control promoters, measured from the ledger.

An experiment (`settlement.rate_suggestions`) draws a share of promoters at random into a control
group that keeps its rate; everyone else may get the policy's rate. Because the draw is random,
the difference of the two groups' means is an unbiased estimate of what the policy's changes did
(intention to treat: a treated promoter whose rate did not change still counts as treated, and
the prediction beside it counts them as zero too).

Per member, over the experiment's window (start to end, both read through the read model):
- **GMV**: net amount of the orders it was the level-1 promoter of, times its attribution share
  (refunds in the window taken off);
- **commission**: what it earned at every level, net of refunds (`read_model.commissions`);
- **margin**: the mall's contribution from those orders, Σ line × category margin
  (`FENRUN_MARGIN_*`, as in `training.ltv.margin`) scaled by what was not refunded, times the
  share, minus the commission;
- **retention**: 1 when it sold at least once in the last `retention_days` of the window.
Amounts are per promoter per cycle (`cycle_days`), in the currency's major unit, so they sit
beside the suggestions' predicted change per cycle. These are estimates for a statistical
comparison, computed in float; money itself is never moved here.

Intervals: Welch's t interval (unequal variances, Welch–Satterthwaite degrees of freedom), 95 %.
Chosen over a bootstrap because it is exact enough at these group sizes and cheap at 100,000
promoters. Below two members in a group there is no interval (reported as None, with why).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from fractions import Fraction

from scipy.stats import t as student_t
from sqlalchemy import Engine

from settlement import read_model
from settlement.errors import NotFound
from settlement.money import minor_digits
from settlement.rate_suggestions import APPLIED, ExperimentRow, SuggestionRow
from training.ltv.margin import MarginRates

METRICS = ("margin", "gmv", "commission", "retention")
CONFIDENCE = 0.95
DEFAULT_CYCLE_DAYS = 30
DEFAULT_RETENTION_DAYS = 30
METHOD = "Welch t interval (unequal variances), 95 %"


@dataclass(frozen=True)
class MetricComparison:
    """Treated against control on one metric, per promoter per cycle (retention: a share)."""

    metric: str
    treated_mean: float
    control_mean: float
    difference: float
    low: float | None
    high: float | None
    predicted: tuple[float, float, float] | None  # mean predicted (delta, low, high) per treated


@dataclass(frozen=True)
class ExperimentReport:
    experiment_id: str
    start: datetime
    end: datetime
    currency: str
    treated: int
    control: int
    cycle_days: int
    method: str
    comparisons: tuple[MetricComparison, ...]
    note: str


def welch_interval(treated: Sequence[float], control: Sequence[float],
                   confidence: float = CONFIDENCE) -> tuple[float, float | None, float | None]:
    """Difference of means (treated − control) and its Welch t interval; None without one."""
    n1, n2 = len(treated), len(control)
    if n1 == 0 or n2 == 0:
        return math.nan, None, None
    m1, m2 = sum(treated) / n1, sum(control) / n2
    if n1 < 2 or n2 < 2:
        return m1 - m2, None, None
    v1 = sum((x - m1) ** 2 for x in treated) / (n1 - 1) / n1
    v2 = sum((x - m2) ** 2 for x in control) / (n2 - 1) / n2
    se = math.sqrt(v1 + v2)
    if se == 0:
        return m1 - m2, m1 - m2, m1 - m2
    spread = v1 ** 2 / (n1 - 1) + v2 ** 2 / (n2 - 1)
    # Variances so small their squares underflow: the pooled degrees of freedom instead.
    df = (v1 + v2) ** 2 / spread if spread > 0 else float(n1 + n2 - 2)
    half = float(student_t.ppf(0.5 + confidence / 2, df)) * se
    return m1 - m2, m1 - m2 - half, m1 - m2 + half


@dataclass(frozen=True)
class _Window:
    start: datetime
    end: datetime
    retained_from: datetime
    per_cycle: float  # cycle_days / window days


def member_metrics(books: Engine, members: Sequence[str], window: _Window,
                   margins: MarginRates) -> tuple[str, dict[str, dict[str, float]]]:
    """(currency, metric -> promoter -> value per cycle in major units) for `members`."""
    wanted = set(members)
    start, end = window.start, window.end
    with books.connect() as conn:
        orders = read_model.read_orders(conn, end, lines=True, shares=True, share_levels=(1,))
        refunds = read_model.refunds(conn, end)
        earned = read_model.commissions(conn, end)
        currency = next(iter(read_model.order_currencies(conn, end)), "CNY")
    paid = {o.order_id: o for o in orders.orders if o.paid_at >= start}
    refunded: dict[str, int] = defaultdict(int)
    for r in refunds:
        if start <= r.refunded_at <= end and r.order_id in paid:
            refunded[r.order_id] += r.amount_minor
    margin_of: dict[str, Fraction] = defaultdict(Fraction)
    for line in orders.lines:
        if line.order_id in paid:
            margin_of[line.order_id] += line.amount_minor * margins.rate_for(line.category)
    sums = {metric: dict.fromkeys(members, 0.0) for metric in METRICS}
    for share in orders.shares:
        order = paid.get(share.order_id)
        if order is None or share.promoter_id not in wanted or order.gross_minor <= 0:
            continue
        kept = Fraction(order.gross_minor - refunded[order.order_id], order.gross_minor)
        sums["gmv"][share.promoter_id] += float(share.share * kept * order.gross_minor)
        sums["margin"][share.promoter_id] += float(share.share * kept * margin_of[order.order_id])
        if order.paid_at >= window.retained_from:
            sums["retention"][share.promoter_id] = 1.0
    for row in earned:
        if row.promoter_id in wanted and start <= row.occurred_at <= end:
            sums["commission"][row.promoter_id] += row.amount_minor
    unit = 10 ** minor_digits(currency)
    for promoter in members:
        sums["margin"][promoter] -= sums["commission"][promoter]
        for metric in ("margin", "gmv", "commission"):
            sums[metric][promoter] *= window.per_cycle / unit
    return currency, sums


def predicted_uplift(suggestions: Sequence[SuggestionRow], treated: Sequence[str]
                     ) -> dict[str, tuple[float, float, float]]:
    """Mean predicted (delta, low, high) per treated member: applied treated suggestions count
    with their prediction, other treated members as 0 (their rate did not change)."""
    by_promoter = {s.promoter_id: s for s in suggestions if s.status in APPLIED}
    out: dict[str, tuple[float, float, float]] = {}
    if not treated:
        return out
    for metric in ("margin", "gmv", "commission"):
        total = [Decimal(0)] * 3
        for promoter in treated:
            row = by_promoter.get(promoter)
            change = row.predicted.get(metric) if row is not None else None
            if change is not None:
                for i, text in enumerate((change.delta, change.low, change.high)):
                    total[i] += Decimal(text)
        out[metric] = tuple(float(v) / len(treated) for v in total)  # type: ignore[assignment]
    return out


def _experiment(books: Engine, experiment_id: str | None) -> ExperimentRow:
    with books.connect() as conn:
        found = read_model.experiments(conn)
    if not found:
        raise NotFound("no rate experiment is stored: set FENRUN_RATES_CONTROL_SHARE and run "
                       "`fenrun rates suggest`")
    if experiment_id is None:
        return found[-1]
    for row in found:
        if row.experiment_id == experiment_id:
            return row
    raise NotFound(f"experiment {experiment_id!r} does not exist")


def experiment_report(books: Engine, margins: MarginRates, *, experiment_id: str | None = None,
                      end: datetime | None = None, cycle_days: int = DEFAULT_CYCLE_DAYS,
                      retention_days: int = DEFAULT_RETENTION_DAYS) -> ExperimentReport:
    """The newest (or named) experiment's realised treated − control difference per metric,
    with its interval, beside the predicted uplift."""
    experiment = _experiment(books, experiment_id)
    with books.connect() as conn:
        members = read_model.experiment_members(conn, experiment.experiment_id)
        last = read_model.last_event_at(conn)
        suggestions = [s for s in read_model.list_suggestions(conn, limit=10_000)
                       if s.experiment_id == experiment.experiment_id]
    stop = end or experiment.ended_at or last or experiment.started_at
    if stop <= experiment.started_at:
        raise NotFound(f"experiment {experiment.experiment_id}: nothing booked after its start "
                       f"({experiment.started_at.isoformat()}) yet")
    days = (stop - experiment.started_at).total_seconds() / 86_400
    window = _Window(experiment.started_at, stop,
                     stop - timedelta(days=min(retention_days, days)), cycle_days / days)
    arms: dict[str, list[str]] = {"treated": [], "control": []}
    for member in members:
        arms.setdefault(member.arm, []).append(member.promoter_id)
    currency, values = member_metrics(books, [m.promoter_id for m in members], window, margins)
    predicted = predicted_uplift(suggestions, arms["treated"])
    comparisons = []
    for metric in METRICS:
        treated = [values[metric][p] for p in arms["treated"]]
        control = [values[metric][p] for p in arms["control"]]
        diff, low, high = welch_interval(treated, control)
        comparisons.append(MetricComparison(
            metric, _mean(treated), _mean(control), diff, low, high, predicted.get(metric)))
    note = ("" if min(len(arms["treated"]), len(arms["control"])) >= 2
            else "fewer than two members in a group: no interval")
    return ExperimentReport(experiment.experiment_id, experiment.started_at, stop, currency,
                            len(arms["treated"]), len(arms["control"]), cycle_days, METHOD,
                            tuple(comparisons), note)


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else math.nan


def as_rows(report: ExperimentReport) -> list[Mapping[str, object]]:
    """One plain row per metric (for tables, JSON and charts)."""
    rows: list[Mapping[str, object]] = []
    for c in report.comparisons:
        predicted = c.predicted or (None, None, None)
        rows.append({"metric": c.metric, "treated": c.treated_mean, "control": c.control_mean,
                     "difference": c.difference, "low": c.low, "high": c.high,
                     "predicted": predicted[0], "predicted_low": predicted[1],
                     "predicted_high": predicted[2]})
    return rows
