"""The plans v2 part of the settlement rules: what an order is fixed with when it is paid, and
the accumulators (month GMV, ladder and grade GMV, day grants) each applied order adds to.

Called by `engine.Settler` for a version with v2 keys; a v1 version never reaches the pricing
here, and it reaches `count` only when another version of the book reads the accumulators.
"""

from __future__ import annotations

from datetime import UTC, datetime
from fractions import Fraction
from typing import Protocol

from settlement.errors import RejectedEvent
from settlement.events import Event, OrderPaid
from settlement.ledger import EntryKind
from settlement.order_terms import OrderTerms
from settlement.plan import PlanVersion
from settlement.plan_rules import PlanRules
from settlement.rules import RuleLine, allocate_rules
from settlement.splits import Allocation, Beneficiary, resolve_beneficiaries
from settlement.state import OrderLineState, OrderState, Workspace, tally_number

DEFAULT_GRADE = "ordinary"
MERCHANT_MONTH, LADDER_MONTH, GRADE_GMV, DAY_GRANTS = "m", "l", "g", "d"  # tally kinds


class _Settler(Protocol):
    ws: Workspace

    def _parent_of(self, promoter_id: str) -> str | None: ...
    def _earns(self, promoter_id: str, customer_id: str) -> bool: ...
    def _post(self, order: OrderState, kind: EntryKind, event: Event, old: Allocation,
              new: Allocation) -> None: ...


def local_month(plan: PlanVersion, instant: datetime) -> str:
    return local_day(plan, instant)[:7]


def local_day(plan: PlanVersion, instant: datetime) -> str:
    """The calendar day of `instant` in the version's timezone (UTC without one), YYYY-MM-DD."""
    rules = plan.rules
    zone = rules.timezone if rules is not None and rules.timezone is not None else UTC
    local = instant.astimezone(zone)
    return f"{local.year:04d}-{local.month:02d}-{local.day:02d}"


def _number(ws: Workspace, kind: str, owner: str, period: str) -> Fraction | int:
    """An accumulator as a number: int while it is whole (most are), else an exact Fraction."""
    value = ws.tally(kind, owner, period)
    if value is None:
        return 0
    if isinstance(value, int | Fraction):
        return value
    return tally_number(str(value))


def _attributed(gross: int, share: Fraction) -> Fraction | int:
    return gross if share == 1 else gross * share


def pay(settler: _Settler, event: Event, body: OrderPaid, plan: PlanVersion,
        shares: dict[str, Fraction]) -> OrderState:
    """Book an order paid under a version with v2 rules; every check comes before any change."""
    rules = plan.rules
    if rules is None:
        raise ValueError("pay() needs a version with plans v2 rules")
    ws = settler.ws
    channel = None
    if rules.channels and body.payment_channel is not None:
        if body.payment_channel not in rules.channels:
            raise RejectedEvent(f"payment_channel: {body.payment_channel} is not a channel of "
                                f"plan version {plan.version_id}")
        channel = body.payment_channel
    beneficiaries = resolve_beneficiaries(
        shares, settler._parent_of, lambda pid: settler._earns(pid, body.customer_id),
        rules.max_levels)
    agent = None
    if rules.agent_share is not None and body.region is not None:
        found = ws.tally("agent", body.region)
        agent = None if found is None else str(found)
        if agent is not None and not settler._earns(agent, body.customer_id):
            agent = None
    terms = _terms(ws, plan, rules, event.ts, body, beneficiaries, channel, agent)
    lines = [OrderLineState(line.sku, line.category, line.amount_minor) for line in body.lines]
    allocation = allocate_rules(
        [RuleLine(ln.sku, ln.category, ln.amount_minor, ln.amount_minor) for ln in lines],
        plan, beneficiaries, terms, body.merchant_id, event.ts)
    ws.check_clearing_headroom(body.currency, allocation.net_minor)
    order = OrderState(body.order_id, body.customer_id, body.merchant_id, body.currency,
                       plan.version_id, event.ts, lines, beneficiaries, allocation)
    settler._post(order, EntryKind.PAID, event, Allocation.empty(), allocation)
    ws.add_order(order)
    return order


def _terms(ws: Workspace, plan: PlanVersion, rules: PlanRules, paid_at: datetime,
           body: OrderPaid, beneficiaries: tuple[Beneficiary, ...], channel: str | None,
           agent: str | None) -> OrderTerms:
    """Everything the order is fixed with at payment (read before this order counts)."""
    month, day = local_month(plan, paid_at), local_day(plan, paid_at)
    take = None
    if rules.tiers:
        gmv = _number(ws, MERCHANT_MONTH, body.merchant_id, month)
        take = rules.take_at(int(gmv))
    grades: dict[str, str] = {}
    if rules.grades:
        for b in beneficiaries:
            promoter = ws.promoter(b.promoter_id)
            grades[b.promoter_id] = (promoter.grade if promoter is not None and promoter.grade
                                     else DEFAULT_GRADE)
    ladder = {}
    if rules.ladder:
        ladder = {b.promoter_id: _number(ws, LADDER_MONTH, b.promoter_id, month)
                  for b in beneficiaries if b.level == 1}
    allowances = {}
    cap = rules.caps.per_promoter_day_minor if rules.caps is not None else None
    if cap is not None:
        earners = {b.promoter_id for b in beneficiaries} | ({agent} if agent else set())
        allowances = {pid: max(0, cap - int(_number(ws, DAY_GRANTS, pid, day)))
                      for pid in sorted(earners)}
    quantities = {line.sku: line.quantity for line in body.lines if line.quantity != 1}
    return OrderTerms(take, channel, grades, ladder, allowances, agent, body.region, quantities)


def refund(order: OrderState, plan: PlanVersion) -> Allocation:
    """The split of what remains of a v2 order, with everything fixed at its payment."""
    terms = order.allocation.terms
    if terms is None:
        raise ValueError(f"order {order.order_id} was not paid under plans v2 rules")
    lines = [RuleLine(ln.sku, ln.category, ln.amount_minor, ln.remaining_minor)
             for ln in order.lines]
    return allocate_rules(lines, plan, order.beneficiaries, terms, order.merchant_id,
                          order.paid_at)


def count(ws: Workspace, order: OrderState, plan: PlanVersion, shares: dict[str, Fraction]) -> None:
    """Add an applied order to the accumulators later orders read, and upgrade grades.

    Gross amounts (refunds are never subtracted); periods are local to the paying version.
    """
    gross = order.gross_minor
    month, day = local_month(plan, order.paid_at), local_day(plan, order.paid_at)
    add = ws.add_to_tally
    add(MERCHANT_MONTH, order.merchant_id, month, gross)
    grades = plan.rules.grades if plan.rules is not None else {}
    for promoter_id, share in shares.items():
        attributed = _attributed(gross, share)
        add(LADDER_MONTH, promoter_id, month, attributed)
        before, after = add(GRADE_GMV, promoter_id, "", attributed)
        if grades:
            _upgrade(ws, promoter_id, before, after, plan.rules)
    for promoter_id, amount in order.allocation.promoters.items():
        add(DAY_GRANTS, promoter_id, day, amount)


def _upgrade(ws: Workspace, promoter_id: str, before: Fraction | int, after: Fraction | int,
             rules: PlanRules | None) -> None:
    """Move up to the highest grade whose threshold this order crossed, if it ranks higher."""
    if rules is None:
        return
    crossed = [g for g in rules.grades.values()
               if g.upgrade_at_minor is not None and before < g.upgrade_at_minor <= after]
    promoter = ws.promoter(promoter_id)
    if not crossed or promoter is None:
        return
    best = max(crossed, key=lambda g: g.upgrade_at_minor or 0)
    current = rules.grades.get(promoter.grade or DEFAULT_GRADE)
    if best.rank > (current.rank if current is not None else 0):
        promoter.grade = best.name
        ws.changes.promoter_changed(promoter)
