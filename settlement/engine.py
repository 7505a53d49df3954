"""Applying events to the books: the rules of the referral tree, attribution, splits and holds.

`Settler.apply` decides one event against a `Workspace`: it checks everything that could reject
the event before changing anything, so a rejected event leaves no trace but its rejection record.
The same code serves the batch CLI, the API and the Kafka worker; only the transaction differs.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, NamedTuple, Protocol

from settlement import engine_rules
from settlement.attribution import attribute
from settlement.errors import (
    InvalidEvent,
    MissingReference,
    PlanError,
    RejectedEvent,
    SelfReferral,
)
from settlement.events import (
    Event,
    OrderConfirmed,
    OrderPaid,
    OrderRefunded,
    PromoterGradeSet,
    PromoterJoined,
    PromoterReinstated,
    PromoterSuspended,
    Touch,
)
from settlement.ledger import EntryKind, JournalEntry, allocation_postings, release_postings
from settlement.money import parse_amount
from settlement.plan import PlanBook, PlanVersion
from settlement.splits import Allocation, Beneficiary, allocate, resolve_beneficiaries
from settlement.state import (
    MONEY_COLUMNS,
    STATUS_COLUMNS,
    OrderLineState,
    OrderState,
    PromoterState,
    Workspace,
)


class OrderScreen(Protocol):
    """The order-time risk screen as the rules see it (`settlement.order_screen.OrderScreener`):
    a hit holds a booked order's commission; a held order is never released by a refund."""

    def check(self, event: Event, order_id: str, currency: str,
              beneficiaries: tuple[Beneficiary, ...], allocation: Allocation,
              parent_of: Callable[[str], str | None]) -> None: ...

    def held(self, order_id: str) -> bool: ...


class EventStatus(StrEnum):
    """What became of an event; `applied` and `rejected` are also stored in `events.status`."""

    APPLIED = "applied"  # booked now
    DUPLICATE = "duplicate"  # the same payload was seen before: nothing changes
    REJECTED = "rejected"  # refused now or before, with the reason
    CONFLICT = "conflict"  # the event_id was used before for another payload
    WAITING = "waiting"  # defer_missing only: nothing recorded, retry once the reference exists


# The names callers (the CLI, the importer, the Kafka worker) already import.
APPLIED, DUPLICATE, REJECTED = EventStatus.APPLIED, EventStatus.DUPLICATE, EventStatus.REJECTED
CONFLICT, WAITING = EventStatus.CONFLICT, EventStatus.WAITING


class Outcome(NamedTuple):
    """What became of one event: applied now, already applied, rejected now (a rejected event
    offered again is decided again), or conflict (its id was used for other content). A tuple:
    one is built per event."""

    event_id: str
    status: EventStatus
    reason: str | None = None


class Settler:
    """The settlement rules, applied one event at a time to a workspace."""

    def __init__(self, workspace: Workspace, plans: PlanBook, defer_missing: bool = False,
                 screener: OrderScreen | None = None) -> None:
        self.ws = workspace
        self.plans = plans
        self.defer_missing = defer_missing
        self.screener = screener  # the order-time risk screen (settlement.order_screen)

    def apply(self, event: Event) -> Outcome:
        known = self.ws.known_event(event.event_id)
        if known is not None:
            if known.payload_hash != event.payload_hash:
                return Outcome(event.event_id, CONFLICT,
                               "event_id was already used for a different payload")
            if known.status != REJECTED:
                return Outcome(event.event_id, DUPLICATE)
            # A rejected event delivered again is decided again: what it named may exist now
            # (a touch that arrived before its promoter's join). The rules' time checks keep a
            # reference that exists only later in time a rejection.
        try:
            _HANDLERS[type(event.body)](self, event, event.body)
        except MissingReference as error:
            if self.defer_missing:
                return Outcome(event.event_id, WAITING, str(error))
            self._record(event, REJECTED, str(error))
            return Outcome(event.event_id, REJECTED, str(error))
        except (RejectedEvent, InvalidEvent, PlanError) as error:
            self._record(event, REJECTED, str(error))
            return Outcome(event.event_id, REJECTED, str(error))
        self._record(event, APPLIED, None)
        return Outcome(event.event_id, APPLIED)

    def _record(self, event: Event, status: EventStatus, reason: str | None) -> None:
        self.ws.decide(event, status, reason)

    # Referral tree ----------------------------------------------------------------------------

    def _promoter_joined(self, event: Event, body: PromoterJoined) -> None:
        if self.ws.promoter(body.promoter_id) is not None:
            raise RejectedEvent(f"promoter_id: {body.promoter_id} has already joined")
        if body.parent_id is not None:
            if body.parent_id == body.promoter_id:
                raise SelfReferral(f"parent_id: {body.parent_id} cannot invite themself")
            parent = self.ws.promoter(body.parent_id)
            if parent is None:
                raise MissingReference(f"parent_id: {body.parent_id} has not joined yet")
            if parent.joined_at > event.ts:
                raise RejectedEvent(f"parent_id: {body.parent_id} joined after this event")
        if body.agent_region is not None:
            agent = self.ws.tally("agent", body.agent_region)
            if agent is not None:
                raise RejectedEvent(f"agent_region: {body.agent_region} already has its agent "
                                    f"{agent}; one agent per region")
            self.ws.set_tally("agent", body.agent_region, "", body.promoter_id)
        self.ws.add_promoter(
            PromoterState(body.promoter_id, body.parent_id, body.grade, event.ts, False)
        )

    def _promoter_grade_set(self, event: Event, body: PromoterGradeSet) -> None:
        promoter = self.ws.promoter(body.promoter_id)
        if promoter is None:
            raise MissingReference(f"promoter_id: {body.promoter_id} has not joined")
        if promoter.joined_at > event.ts:
            raise RejectedEvent(f"promoter_id: {body.promoter_id} joined after this event")
        promoter.grade = body.grade
        self.ws.changes.promoter_changed(promoter)

    def _set_suspended(self, promoter_id: str, suspended: bool) -> None:
        promoter = self.ws.promoter(promoter_id)
        if promoter is None:
            raise MissingReference(f"promoter_id: {promoter_id} has not joined")
        if promoter.suspended == suspended:
            state = "suspended" if suspended else "active"
            raise RejectedEvent(f"promoter_id: {promoter_id} is already {state}")
        promoter.suspended = suspended
        self.ws.changes.promoter_changed(promoter)

    def _promoter_suspended(self, event: Event, body: PromoterSuspended) -> None:
        self._set_suspended(body.promoter_id, True)

    def _promoter_reinstated(self, event: Event, body: PromoterReinstated) -> None:
        self._set_suspended(body.promoter_id, False)

    # Touches ----------------------------------------------------------------------------------

    def _touch(self, event: Event, body: Touch) -> None:
        if body.customer_id == body.promoter_id:
            raise SelfReferral(
                f"customer_id: {body.customer_id} touched their own promoter link (self-referral)"
            )
        promoter = self.ws.promoter(body.promoter_id)
        if promoter is None:
            raise MissingReference(f"promoter_id: {body.promoter_id} has not joined")
        if promoter.joined_at > event.ts:
            raise RejectedEvent(f"promoter_id: {body.promoter_id} joined after this touch")
        self.ws.changes.touches.append((event.event_id, body.customer_id, body.promoter_id,
                                        event.ts, body.kind, body.channel))
        self.ws.add_touch(body.customer_id, body.promoter_id, event.ts)
        if body.kind == "register" and self.ws.binding(body.customer_id) is None:
            if self.plans.version_at(event.ts).customer_binding == "lifetime":
                self.ws.bind(body.customer_id, body.promoter_id)
                self.ws.changes.bindings.append((body.customer_id, body.promoter_id, event.ts,
                                                 event.event_id))

    # Orders -----------------------------------------------------------------------------------

    def _order_paid(self, event: Event, body: OrderPaid) -> None:
        if self.ws.order(body.order_id) is not None:
            raise RejectedEvent(f"order_id: {body.order_id} was already paid")
        plan = self.plans.version_at(event.ts)
        if body.currency != plan.currency:
            raise RejectedEvent(
                f"currency: {body.currency} differs from the plan's currency {plan.currency}"
            )
        lookback = timedelta(days=plan.attribution.lookback_days)
        touches = self.ws.touches(body.customer_id, event.ts - lookback)
        bound = self.ws.binding(body.customer_id) if plan.customer_binding == "lifetime" else None
        shares = attribute(touches, event.ts, plan.attribution, bound)
        self.ws.load_ancestries(shares)
        if plan.rules is not None:
            order = engine_rules.pay(self, event, body, plan, shares)
            engine_rules.count(self.ws, order, plan, shares)
            return
        beneficiaries = resolve_beneficiaries(shares, self._parent_of,
                                              lambda pid: self._earns(pid, body.customer_id))
        lines = [OrderLineState(line.sku, line.category, line.amount_minor) for line in body.lines]
        allocation = allocate(((ln.category, ln.amount_minor) for ln in lines), plan, beneficiaries)
        self.ws.check_clearing_headroom(body.currency, allocation.net_minor)
        order = OrderState(body.order_id, body.customer_id, body.merchant_id, body.currency,
                           plan.version_id, event.ts, lines, beneficiaries, allocation)
        self._post(order, EntryKind.PAID, event, Allocation.empty(), allocation)
        self.ws.add_order(order)
        if self.plans.keeps_tallies:  # another version reads accumulators this order adds to
            engine_rules.count(self.ws, order, plan, shares)
        if self.screener is not None:  # last: a hit holds a booked order, never rejects it
            self.screener.check(event, body.order_id, body.currency, beneficiaries, allocation,
                                self._parent_of)

    def _parent_of(self, promoter_id: str) -> str | None:
        promoter = self.ws.promoter(promoter_id)
        return promoter.parent_id if promoter is not None else None

    def _earns(self, promoter_id: str, customer_id: str) -> bool:
        promoter = self.ws.promoter(promoter_id)
        return promoter is not None and not promoter.suspended and promoter_id != customer_id

    def _paid_order(self, order_id: str, ts: datetime) -> OrderState:
        order = self.ws.order(order_id)
        if order is None:
            raise MissingReference(f"order_id: {order_id} has not been paid")
        if ts < order.paid_at:
            raise RejectedEvent(f"ts: {ts.isoformat()} is before the order was paid")
        return order

    def _order_confirmed(self, event: Event, body: OrderConfirmed) -> None:
        order = self._paid_order(body.order_id, event.ts)
        if order.confirmed_at is not None:
            raise RejectedEvent(f"order_id: {body.order_id} was already confirmed")
        hold_days = order_hold_days(self.plans.by_id(order.plan_version_id), order)
        order.confirmed_at = event.ts
        order.release_due_at = event.ts + timedelta(days=hold_days)
        self.ws.changes.order_changed(order, STATUS_COLUMNS)

    def _order_refunded(self, event: Event, body: OrderRefunded) -> None:
        order = self._paid_order(body.order_id, event.ts)
        by_sku = {line.sku: line for line in order.lines}
        refunds: list[tuple[OrderLineState, int]] = []
        for index, refund in enumerate(body.lines):
            line = by_sku.get(refund.sku)
            if line is None:
                raise RejectedEvent(f"lines[{index}].sku: {refund.sku} is not in the order")
            amount = parse_amount(str(refund.amount), order.currency, f"lines[{index}].amount")
            if amount > line.remaining_minor:
                raise RejectedEvent(
                    f"lines[{index}].amount: refund {refund.amount} exceeds what remains of "
                    f"{refund.sku}"
                )
            refunds.append((line, amount))
        if self.screener is None or not self.screener.held(order.order_id):
            self.release_if_due(order, event.ts)
        for line, amount in refunds:
            line.refunded_minor += amount
        plan = self.plans.by_id(order.plan_version_id)
        if order.allocation.terms is not None:
            new_allocation = engine_rules.refund(order, plan)
        else:
            remaining = ((line.category, line.remaining_minor) for line in order.lines)
            new_allocation = allocate(remaining, plan, order.beneficiaries)
        self._post(order, EntryKind.REFUNDED, event, order.allocation, new_allocation)
        order.allocation = new_allocation
        self.ws.changes.order_changed(order, MONEY_COLUMNS)

    def _post(self, order: OrderState, kind: EntryKind, event: Event, old: Allocation,
              new: Allocation) -> None:
        postings = allocation_postings(old, new, order.merchant_id, order.currency,
                                       released=order.released_at is not None)
        self.ws.changes.add_entry(JournalEntry(f"event:{event.event_id}", kind, event.ts,
                                               event.event_id, order.plan_version_id, postings))

    # Holds ------------------------------------------------------------------------------------

    def release_if_due(self, order: OrderState, as_of: datetime) -> bool:
        """Release an order's commission if its hold is over by `as_of`; true if it was released.

        The release is booked at the instant the hold ended, not when this runs, so the books do
        not depend on how often the release job runs.
        """
        due = order.release_due_at
        if order.released_at is not None or due is None or due > as_of:
            return False
        postings = release_postings(order.allocation, order.currency)
        if postings:
            self.ws.changes.add_entry(JournalEntry(f"release:{order.order_id}",
                                                   EntryKind.RELEASED, due, None,
                                                   order.plan_version_id, postings))
        order.released_at = due
        self.ws.changes.order_changed(order, STATUS_COLUMNS)
        return True


def order_hold_days(plan: PlanVersion, order: OrderState) -> int:
    """An order's hold (one per order, counted from its confirmation): the longest hold among
    its level-1 promoters, each its own terms' `hold_days` or else the plan's; the plan's hold
    when it has no level-1 promoter. Its levels 2-3 and its agent follow the order's hold."""
    if not plan.promoter_terms:
        return plan.hold_days
    holds = [plan.hold_days_of(b.promoter_id) for b in order.beneficiaries if b.level == 1]
    return max(holds) if holds else plan.hold_days


# One handler per event type, as plain functions of the class: a dict of bound methods on each
# Settler would be a reference cycle (settler -> dict -> method -> settler) that keeps a batch's
# whole workspace alive until the cyclic collector runs, instead of freeing it at once.
_HANDLERS: dict[type, Callable[[Settler, Event, Any], None]] = {
    PromoterJoined: Settler._promoter_joined,
    PromoterSuspended: Settler._promoter_suspended,
    PromoterReinstated: Settler._promoter_reinstated,
    Touch: Settler._touch,
    OrderPaid: Settler._order_paid,
    OrderConfirmed: Settler._order_confirmed,
    OrderRefunded: Settler._order_refunded,
    PromoterGradeSet: Settler._promoter_grade_set,
}
