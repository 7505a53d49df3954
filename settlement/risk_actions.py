"""What deciding a risk case does to the books: every money move a ledger entry, every step
idempotent, `verify_ledger` holding throughout.

Confirming a case, in one transaction:
- freezes the pending commission of its orders: an order not released yet gets a hold, so the
  release job never moves it to available;
- reverses the commission every promoter (every level: the upline the fraud fed too) still has
  on those orders, as a difference from what earlier reversals took (`risk_reversal_postings`):
  from pending for an order not released, as a claw-back receivable for one released or paid
  (netted at the promoter's next payout). The money goes to the merchant's risk-recovered
  account. Booking it again books nothing; a refund booked after the confirmation is squared by
  confirming again;
- suspends the promoter through an ordinary `promoter_suspended` event (the settlement rules'
  suspension: no commission on later orders), applied by the one ingestion use case.

Dismissing lifts the holds the case put on its orders, releases at once those whose hold period
is over (booked at their due instant, as the release job books them; the others release when
due) and records why. Nothing here deletes or rewrites a journal row.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import Connection, Engine, select, update

from settlement import risk_tables as r
from settlement import tables as t
from settlement.events import parse_event
from settlement.ledger import EntryKind, JournalEntry, risk_reversal_postings
from settlement.money import format_amount
from settlement.plan import PlanBook
from settlement.read_cases import IN_CHUNK
from settlement.read_model import (
    OrderCommissionRow,
    held_orders,
    order_commissions,
    risk_entry_count,
    risk_reversed,
)
from settlement.repository import write_entries
from settlement.risk_cases import (
    append_event,
    case_order_ids,
    get_case,
    move,
    refresh_money,
)
from settlement.risk_domain import (
    Case,
    CaseAction,
    CaseError,
    CaseStatus,
    check_actor,
)
from settlement.service import apply_batch, in_transaction, release_orders
from settlement.state import Changes


@dataclass(frozen=True)
class Decision:
    """What a decision did: `changed` is false when it was already done (a second confirm)."""

    case: Case
    changed: bool
    reversed_minor: int = 0  # commission reversed by this call, every promoter and level
    entries: tuple[str, ...] = ()
    held_orders: tuple[str, ...] = ()  # frozen now (confirm) or lifted now (dismiss)
    suspended: bool = False
    per_promoter_minor: dict[str, int] = field(default_factory=dict)
    released_orders: tuple[str, ...] = ()  # dismiss: lifted and due, released now


def _now() -> datetime:
    return datetime.now(UTC)


def investigate_case(engine: Engine, case_id: int, by: str, note: str | None = None) -> Decision:
    """Someone is on it: open -> investigating (already investigating: nothing changes)."""
    check_actor(by, note)

    def work(conn: Connection) -> Decision:
        case = get_case(conn, case_id)
        if case.status == CaseStatus.INVESTIGATING:
            return Decision(case, changed=False)
        move(conn, case, CaseStatus.INVESTIGATING, by, note, _now(), {})
        return Decision(get_case(conn, case_id), changed=True)

    return in_transaction(engine, work)


def add_note(engine: Engine, case_id: int, by: str, note: str) -> Case:
    """A note on the case's trail, whatever its status."""
    check_actor(by, note)
    if not note.strip():
        raise CaseError("note: must say something")

    def work(conn: Connection) -> Case:
        case = get_case(conn, case_id)
        append_event(conn, case_id, _now(), by, CaseAction.NOTE, None, None, note, {})
        return case

    return in_transaction(engine, work)


def confirm_case(engine: Engine, plans: PlanBook, case_id: int, by: str,
                 note: str | None = None, suspend: bool = True) -> Decision:
    """Confirm fraud: freeze, reverse at every level, claw back, suspend (see the module doc).
    Confirming a confirmed case books only what changed since (nothing, unless a refund came)."""
    check_actor(by, note)
    return in_transaction(engine, lambda conn: _confirm(conn, plans, case_id, by, note, suspend))


def _confirm(conn: Connection, plans: PlanBook, case_id: int, by: str, note: str | None,
             suspend: bool) -> Decision:
    at = _now()
    case = get_case(conn, case_id)
    if case.status == CaseStatus.DISMISSED:
        raise CaseError(f"case_id: case {case_id} was dismissed; it cannot be confirmed")
    orders = case_order_ids(conn, case_id)
    _claim_orders(conn, orders)
    first = case.status != CaseStatus.CONFIRMED
    frozen = _freeze(conn, case, orders, by, at) if first else []
    entries, per_promoter = _reverse(conn, case, orders, at)
    total = sum(per_promoter.values())
    suspended = first and suspend and _suspend(conn, plans, case, by, at)
    detail = {"reversed_minor": total, "entries": entries[:50], "entry_count": len(entries),
              "frozen_orders": frozen[:50], "frozen_count": len(frozen),
              "suspended": suspended, "per_promoter_minor": per_promoter}
    if first:
        move(conn, case, CaseStatus.CONFIRMED, by, note, at, detail)
    elif entries:  # squared a refund booked after the confirmation
        append_event(conn, case_id, at, by, CaseAction.NOTE, None, None,
                     note or "confirmed again: reversals squared with the books", detail)
    _store_recovered(conn, case_id, orders, at)
    return Decision(get_case(conn, case_id), first or bool(entries), total, tuple(entries),
                    tuple(frozen), suspended, per_promoter)


def _claim_orders(conn: Connection, orders: list[str]) -> None:
    """Bump the orders' row version before reading whether they were released: a release job
    that read one of them before us fails its versioned write and retries (and then skips a
    frozen order); one that committed first is waited for here, so we read it released."""
    o = t.orders.c
    for start in range(0, len(orders), IN_CHUNK):
        conn.execute(update(t.orders).where(o.order_id.in_(orders[start:start + IN_CHUNK]))
                     .values(version=o.version + 1))


def _freeze(conn: Connection, case: Case, orders: list[str], by: str,
            at: datetime) -> list[str]:
    """Hold every case order not released yet (and not held already); returns those held now."""
    released = {row.order_id for row in order_commissions(conn, orders) if row.released}
    wanted = [o for o in orders if o not in released]
    already = held_orders(conn, wanted)
    h = r.order_holds.c
    lifted = set(conn.execute(select(h.order_id).where(
        h.order_id.in_(wanted), h.lifted_at.is_not(None))).scalars()) if wanted else set()
    reason = f"risk case {case.case_id} confirmed: commission frozen"
    frozen = []
    for order_id in wanted:
        if order_id in already:
            continue
        if order_id in lifted:
            conn.execute(update(r.order_holds).where(h.order_id == order_id).values(
                case_id=case.case_id, reason=reason, held_at=at, held_by=by, lifted_at=None,
                lifted_by=None))
        else:
            conn.execute(r.order_holds.insert().values(
                order_id=order_id, case_id=case.case_id, reason=reason, held_at=at, held_by=by))
        frozen.append(order_id)
    return frozen


def _reverse(conn: Connection, case: Case, orders: list[str],
             at: datetime) -> tuple[list[str], dict[str, int]]:
    """Book, per order, what each promoter still has on it minus what was reversed before."""
    done = risk_reversed(conn, orders)
    by_order: dict[str, list[OrderCommissionRow]] = defaultdict(list)
    for row in order_commissions(conn, orders):
        by_order[row.order_id].append(row)
    changes = Changes()
    entries: list[str] = []
    per_promoter: dict[str, int] = defaultdict(int)
    for order_id in sorted(by_order):
        rows = by_order[order_id]
        amounts = {row.promoter_id: row.amount_minor - done.get((order_id, row.promoter_id), 0)
                   for row in rows}
        # a promoter reversed before and no longer on the allocation gives nothing back here
        amounts = {p: a for p, a in amounts.items() if a}
        if not amounts:
            continue
        first = rows[0]
        entry_id = f"risk:{order_id}:{risk_entry_count(conn, order_id) + 1}"
        changes.add_entry(JournalEntry(entry_id, EntryKind.RISK_REVERSAL, at, None, None,
                                       risk_reversal_postings(first.merchant_id, first.currency,
                                                              first.released, amounts)))
        conn.execute(r.risk_entries.insert().values(entry_id=entry_id, order_id=order_id,
                                                    case_id=case.case_id))
        entries.append(entry_id)
        for promoter_id, amount in amounts.items():
            per_promoter[promoter_id] += amount
    write_entries(conn, changes)
    return entries, dict(sorted(per_promoter.items()))


def _suspend(conn: Connection, plans: PlanBook, case: Case, by: str, at: datetime) -> bool:
    """Suspend through the settlement rules; false when the promoter was suspended already."""
    event = parse_event({"event_id": f"risk-case-{case.case_id}-suspend",
                         "type": "promoter_suspended", "ts": at.isoformat(),
                         "promoter_id": case.promoter_id, "case_id": case.case_id, "by": by})
    outcome = apply_batch(conn, plans, [event])[0]
    return outcome.status == "applied"


def _store_recovered(conn: Connection, case_id: int, orders: list[str], at: datetime) -> None:
    """A confirmed case's money: what its orders' reversals took (it puts nothing at risk now)."""
    total = sum(risk_reversed(conn, orders).values())
    conn.execute(update(r.risk_cases).where(r.risk_cases.c.case_id == case_id)
                 .values(money_at_risk_minor=total, updated_at=at))


def dismiss_case(engine: Engine, case_id: int, by: str, note: str) -> Decision:
    """Not fraud: lift the holds the case put on its orders and release the due ones, record
    why (a note is required). Dismissing a dismissed case changes nothing."""
    check_actor(by, note)
    if not note or not note.strip():
        raise CaseError("note: say why the case is dismissed")
    return in_transaction(engine, lambda conn: _dismiss(conn, case_id, by, note))


def _dismiss(conn: Connection, case_id: int, by: str, note: str) -> Decision:
    at = _now()
    case = get_case(conn, case_id)
    if case.status == CaseStatus.DISMISSED:
        return Decision(case, changed=False)
    if case.status == CaseStatus.CONFIRMED:
        raise CaseError(f"case_id: case {case_id} was confirmed; it cannot be dismissed")
    h = r.order_holds.c
    lifted = list(conn.execute(select(h.order_id).where(
        h.case_id == case_id, h.lifted_at.is_(None)).order_by(h.order_id)).scalars())
    if lifted:
        conn.execute(update(r.order_holds).where(h.case_id == case_id, h.lifted_at.is_(None))
                     .values(lifted_at=at, lifted_by=by))
    held_minor = sum(row.amount_minor for row in order_commissions(conn, lifted))
    released = release_orders(conn, lifted, at)  # the rest release when confirmed + hold days
    refresh_money(conn, case_id, at)
    move(conn, case, CaseStatus.DISMISSED, by, note, at,
         {"lifted_orders": lifted[:50], "lifted_count": len(lifted),
          "lifted_minor": held_minor, "lifted_text": format_amount(held_minor, case.currency),
          "released_orders": released[:50], "released_count": len(released)})
    return Decision(get_case(conn, case_id), True, held_orders=tuple(lifted),
                    released_orders=tuple(released))
