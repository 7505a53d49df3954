"""Posting promoter guarantees (issue 15, `promoter_terms.P.guarantee`) once a month has ended.

A guarantee tops a promoter's level-1 commission of a local calendar month up to `per_month`,
for the first `months` months of its terms (`promoter_terms.Guarantee`). It is posted by the first
release run whose `as_of` reaches the month's end (the CLI's `release`, `settle`'s release, the
Kafka worker, the importer), computed once from the month's level-1 commission as the books hold
it then, and recorded in `plan_tallies` (kind `guarantee`, the month as period, value
"commission top-up") whatever the top-up is, zero included: a later run, a replay or a refund
changes nothing of it. Two runs at once collide on that row's key and the loser is retried.

How money moves: Dr platform revenue / Cr promoter available (`EntryKind.GUARANTEE_TOPUP`, entry
`guarantee:P:YYYY-MM`, booked at the month's end instant). Available, not pending: a hold protects
a commission against its order's refund, and no refund ever takes a top-up back.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, select

from settlement import order_codec
from settlement import tables as t
from settlement.ledger import (
    PLATFORM_OWNER,
    AccountKey,
    AccountKind,
    EntryKind,
    JournalEntry,
    Posting,
)
from settlement.plan import PlanBook
from settlement.promoter_terms import Guarantee, GuaranteeMonth, topup_minor
from settlement.repository import DatabaseSource, flush
from settlement.state import PROMOTER_OWNER, Workspace

GUARANTEE_TALLY = "guarantee"
MAX_MONTHS_A_RUN = 36_000  # promoters (1,000 a version) x months (36): what one run may post


def entry_id_of(promoter_id: str, month: str) -> str:
    return f"guarantee:{promoter_id}:{month}"


def _ended(plans: PlanBook, as_of: datetime) -> list[tuple[Guarantee, str]]:
    due = [(g, label) for _, g in sorted(plans.guarantees.items())
           for label in g.month_labels() if g.month_bounds(label)[1] <= as_of]
    return due[:MAX_MONTHS_A_RUN]


def level1_commissions(conn: Connection, promoter_ids: set[str], begin: datetime,
                       end: datetime) -> dict[str, int]:
    """Each promoter's commission, as the books hold it now, on the orders paid in [begin, end)
    where it is a level-1 beneficiary (its whole rounded total on such an order); one scan."""
    o = t.orders.c
    rows = conn.execute(select(o.beneficiaries, o.allocation)
                        .where(o.paid_at >= begin, o.paid_at < end))
    totals = dict.fromkeys(promoter_ids, 0)
    for beneficiaries, allocation in rows:
        level1 = {pid for pid, level, _ in order_codec.decode_beneficiaries_raw(beneficiaries)
                  if level == 1 and pid in totals}
        if level1:
            promoters = order_codec.decode_allocation(allocation).promoters
            for pid in level1:
                totals[pid] += promoters.get(pid, 0)
    return totals


def post_guarantees(conn: Connection, plans: PlanBook, as_of: datetime) -> int:
    """Post every guaranteed month that ended by `as_of` and was not posted yet, inside the
    caller's transaction; returns how many months were posted (top-ups of 0 included)."""
    due = _ended(plans, as_of)
    if not due:
        return 0
    source = DatabaseSource(conn)
    posted = source.load_tallies(sorted({PROMOTER_OWNER + g.promoter_id for g, _ in due}),
                                 sorted({label for _, label in due}))
    todo = [(g, label) for g, label in due
            if f"{GUARANTEE_TALLY}|{g.promoter_id}|{label}" not in posted]
    if not todo:
        return 0
    workspace = Workspace(source, 0)
    by_bounds: dict[tuple[datetime, datetime], list[tuple[Guarantee, str]]] = {}
    for guarantee, label in todo:
        by_bounds.setdefault(guarantee.month_bounds(label), []).append((guarantee, label))
    for (begin, end), months in sorted(by_bounds.items()):
        commissions = level1_commissions(conn, {g.promoter_id for g, _ in months}, begin, end)
        for guarantee, label in months:
            _post_month(workspace, plans, guarantee, label, end,
                        commissions[guarantee.promoter_id])
    flush(conn, workspace.changes)
    return len(todo)


def _post_month(ws: Workspace, plans: PlanBook, g: Guarantee, label: str, end: datetime,
                commission: int) -> None:
    """Record one month's computation once; a promoter not joined by the month's end, or
    suspended when it is posted, is recorded with no top-up."""
    promoter = ws.promoter(g.promoter_id)
    earns = promoter is not None and promoter.joined_at < end and not promoter.suspended
    topup = topup_minor(g.per_month_minor, commission) if earns else 0
    ws.set_tally(GUARANTEE_TALLY, g.promoter_id, label, f"{commission} {topup}")
    if topup == 0:
        return
    currency = plans.by_id(g.version_id).currency
    ws.changes.add_entry(JournalEntry(
        entry_id_of(g.promoter_id, label), EntryKind.GUARANTEE_TOPUP, end, None, g.version_id,
        (Posting(AccountKey(AccountKind.PLATFORM_REVENUE.value, PLATFORM_OWNER, currency),
                 topup),
         Posting(AccountKey(AccountKind.PROMOTER_AVAILABLE.value, g.promoter_id, currency),
                 -topup))))


def posted_months(conn: Connection, plans: PlanBook, promoter_id: str) -> list[GuaranteeMonth]:
    """The months of a promoter's guarantee posted so far, in month order."""
    g = plans.guarantees.get(promoter_id)
    if g is None:
        return []
    found = DatabaseSource(conn).load_tallies([PROMOTER_OWNER + promoter_id], g.month_labels())
    months = []
    for label in g.month_labels():
        stored = found.get(f"{GUARANTEE_TALLY}|{promoter_id}|{label}")
        if stored is None:
            continue
        commission, topup = (int(part) for part in str(stored[0]).split())
        months.append(GuaranteeMonth(promoter_id, label, g.per_month_minor, commission, topup,
                                     entry_id_of(promoter_id, label), g.version_id))
    return months
