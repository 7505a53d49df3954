"""The risk case store: flags become cases, one active case per promoter, every change audited.

`record_flags` is how the periodic scan and the order-time screen hand flags over: flags group
per promoter into its active (open or investigating) case, or open one; a flag already recorded
on that case (same rule, source and evidence) is skipped, so re-scanning changes nothing, and a
new flag joins the case with the orders it names. A case's priority is its money at risk: the
commission its orders still credit, at every level (`refresh_money`).

Status changes go through `move` (an optimistic version check: two people deciding at once never
both win, the loser is retried on fresh state by `in_transaction` and then sees the decision).
Every change appends a `risk_case_events` row; nothing here deletes or rewrites one. Money moves
on a decision live in `settlement.risk_actions`.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import Connection, func, select, update

from settlement import risk_tables as r
from settlement.errors import NotFound
from settlement.money import format_amount
from settlement.read_model import (
    books_currencies,
    known_orders,
    order_commissions,
    order_currency,
    risk_reversed,
)
from settlement.repository import StaleState
from settlement.risk_domain import (
    ACTIVE,
    DECIDED,
    MAX_FLAGS_PER_CALL,
    MAX_ORDERS_PER_CASE,
    TRANSITIONS,
    Case,
    CaseAction,
    CaseError,
    CaseEvent,
    CaseStatus,
    RiskFlag,
    StoredFlag,
    evidence_json,
)

MAX_LISTED = 1_000  # cases one listing returns
_ACTIVE_VALUES = tuple(s.value for s in ACTIVE)


def flag_orders(flag: RiskFlag) -> tuple[str, ...]:
    """The orders a flag blames: the ones named explicitly, else those in its evidence."""
    if flag.orders:
        return flag.orders
    named = flag.evidence.get("orders", [])
    return tuple(str(o) for o in named) if isinstance(named, list) else ()


def record_flags(conn: Connection, flags: Sequence[RiskFlag], at: datetime,
                 actor: str = "scan") -> list[int]:
    """Record flags inside the caller's transaction; returns the case id of each flag's promoter
    (in promoter order, once each). Idempotent: the same flags again record nothing."""
    if len(flags) > MAX_FLAGS_PER_CALL:
        raise CaseError(f"flags: {len(flags)} in one call, at most {MAX_FLAGS_PER_CALL}")
    by_promoter: dict[str, list[RiskFlag]] = defaultdict(list)
    for flag in flags:
        flag.check()
        by_promoter[flag.promoter_id].append(flag)
    case_ids = []
    for promoter_id in sorted(by_promoter):
        case_id = active_case_id(conn, promoter_id) or _open(
            conn, promoter_id, at, actor, [o for f in by_promoter[promoter_id]
                                           for o in flag_orders(f)])
        added = sum(_add_flag(conn, case_id, flag, at, actor) for flag in by_promoter[promoter_id])
        if added:
            refresh_money(conn, case_id, at)
        case_ids.append(case_id)
    return case_ids


def active_case_id(conn: Connection, promoter_id: str) -> int | None:
    """The promoter's open or investigating case, if any."""
    c = r.risk_cases.c
    found = conn.execute(select(c.case_id).where(
        c.promoter_id == promoter_id, c.status.in_(_ACTIVE_VALUES))).scalar_one_or_none()
    return int(found) if found is not None else None


def _open(conn: Connection, promoter_id: str, at: datetime, actor: str,
          order_ids: list[str]) -> int:
    """A new open case, in the currency of its orders (the books' main one if none is known)."""
    currency = order_currency(conn, order_ids) or books_currencies(conn)[0]
    case_id = int(conn.execute(r.risk_cases.insert().values(
        promoter_id=promoter_id, status=CaseStatus.OPEN.value, currency=currency,
        money_at_risk_minor=0, opened_at=at, updated_at=at, version=1,
    ).returning(r.risk_cases.c.case_id)).scalar_one())
    append_event(conn, case_id, at, actor, CaseAction.OPENED, None, CaseStatus.OPEN, None, {})
    return case_id


def _add_flag(conn: Connection, case_id: int, flag: RiskFlag, at: datetime, actor: str) -> bool:
    f = r.risk_case_flags.c
    key = flag.key
    if conn.execute(select(f.flag_id).where(f.case_id == case_id, f.flag_key == key)).first():
        return False
    conn.execute(r.risk_case_flags.insert().values(
        case_id=case_id, flag_key=key, rule=flag.rule, severity=flag.severity,
        source=flag.source.value, evidence=evidence_json(flag.evidence),
        model_version=flag.model_version, flagged_at=at))
    added = _add_orders(conn, case_id, flag_orders(flag), flag.rule, at)
    append_event(conn, case_id, at, actor, CaseAction.FLAGGED, None, None, None,
                 {"rule": flag.rule, "severity": flag.severity, "source": flag.source.value,
                  "orders_added": added[:20], "orders_added_count": len(added)})
    return True


def _add_orders(conn: Connection, case_id: int, order_ids: Iterable[str], rule: str,
                at: datetime) -> list[str]:
    """Join the orders the books know and the case does not name yet (bounded per case)."""
    o = r.risk_case_orders.c
    have = set(conn.execute(select(o.order_id).where(o.case_id == case_id)).scalars())
    known = known_orders(conn, order_ids)
    new = sorted(known - have)
    if len(have) + len(new) > MAX_ORDERS_PER_CASE:
        raise CaseError(f"orders: case {case_id} would name {len(have) + len(new)} orders, "
                        f"at most {MAX_ORDERS_PER_CASE}")
    if new:
        conn.execute(r.risk_case_orders.insert(), [
            {"case_id": case_id, "order_id": order_id, "rule": rule, "added_at": at}
            for order_id in new])
    return new


def case_order_ids(conn: Connection, case_id: int) -> list[str]:
    o = r.risk_case_orders.c
    return list(conn.execute(select(o.order_id).where(o.case_id == case_id)
                             .order_by(o.order_id)).scalars())


def money_at_risk(conn: Connection, order_ids: Sequence[str]) -> int:
    """Commission the orders still credit, every promoter and level, less what was reversed."""
    reversed_ = risk_reversed(conn, order_ids)
    return sum(row.amount_minor - reversed_.get((row.order_id, row.promoter_id), 0)
               for row in order_commissions(conn, order_ids))


def refresh_money(conn: Connection, case_id: int, at: datetime) -> int:
    """Store the case's money at risk now (its place in the work queue)."""
    amount = money_at_risk(conn, case_order_ids(conn, case_id))
    conn.execute(update(r.risk_cases).where(r.risk_cases.c.case_id == case_id)
                 .values(money_at_risk_minor=amount, updated_at=at))
    return amount


def append_event(conn: Connection, case_id: int, at: datetime, actor: str, action: CaseAction,
                 from_status: CaseStatus | None, to_status: CaseStatus | None, note: str | None,
                 detail: dict[str, Any]) -> None:
    """Append one line to the case's audit trail (never updated, never deleted)."""
    conn.execute(r.risk_case_events.insert().values(
        case_id=case_id, at=at, actor=actor, action=action.value,
        from_status=from_status.value if from_status else None,
        to_status=to_status.value if to_status else None, note=note,
        detail=json.dumps(detail, sort_keys=True, default=str)))


def move(conn: Connection, case: Case, to: CaseStatus, actor: str, note: str | None,
         at: datetime, detail: dict[str, Any]) -> None:
    """Change the case's status if the transition is allowed and nobody moved it meanwhile."""
    current = CaseStatus(case.status)
    if to not in TRANSITIONS[current]:
        raise CaseError(f"case_id: case {case.case_id} is {current.value}; it cannot become "
                        f"{to.value}")
    c = r.risk_cases.c
    decided = to not in ACTIVE
    changed = conn.execute(update(r.risk_cases).where(
        c.case_id == case.case_id, c.version == case.version).values(
        status=to.value, updated_at=at, version=case.version + 1,
        decided_at=at if decided else None, decided_by=actor if decided else None)).rowcount
    if changed != 1:
        raise StaleState(f"risk_cases: case {case.case_id} changed since it was read")
    append_event(conn, case.case_id, at, actor, CaseAction(to.value), current, to, note, detail)


def get_case(conn: Connection, case_id: int) -> Case:
    """The case, or `NotFound` naming the id."""
    found = _cases(conn, r.risk_cases.c.case_id == case_id, limit=1)
    if not found:
        raise NotFound(f"case_id: no risk case {case_id}")
    return found[0]


def list_cases(conn: Connection, statuses: Sequence[CaseStatus] | None = None,
               limit: int = 100) -> list[Case]:
    """Cases by money at risk (largest first), of the named statuses (default: active)."""
    if not 1 <= limit <= MAX_LISTED:
        raise CaseError(f"limit: {limit} must be between 1 and {MAX_LISTED}")
    wanted = tuple(s.value for s in (statuses or ACTIVE))
    return _cases(conn, r.risk_cases.c.status.in_(wanted), limit)


def _cases(conn: Connection, where: Any, limit: int) -> list[Case]:
    c, f, o = r.risk_cases.c, r.risk_case_flags.c, r.risk_case_orders.c
    rows = conn.execute(select(r.risk_cases).where(where).order_by(
        c.money_at_risk_minor.desc(), c.case_id).limit(limit)).all()
    ids = [row.case_id for row in rows]
    rules: dict[int, set[str]] = defaultdict(set)
    for case_id, rule in conn.execute(select(f.case_id, f.rule).where(f.case_id.in_(ids))):
        rules[case_id].add(rule)
    counts: dict[int, int] = {
        int(case_id): int(n) for case_id, n in conn.execute(
            select(o.case_id, func.count()).where(o.case_id.in_(ids)).group_by(o.case_id))}
    return [Case(int(row.case_id), row.promoter_id, row.status, row.currency,
                 int(row.money_at_risk_minor), row.opened_at, row.updated_at, row.decided_at,
                 row.decided_by, tuple(sorted(rules[row.case_id])),
                 int(counts.get(row.case_id, 0)), int(row.version)) for row in rows]


def case_flags(conn: Connection, case_id: int) -> list[StoredFlag]:
    f = r.risk_case_flags.c
    rows = conn.execute(select(r.risk_case_flags).where(f.case_id == case_id)
                        .order_by(f.flag_id))
    return [StoredFlag(int(row.case_id), row.rule, row.severity, row.source,
                       json.loads(row.evidence), row.model_version, row.flagged_at)
            for row in rows]


def case_events(conn: Connection, case_id: int) -> list[CaseEvent]:
    e = r.risk_case_events.c
    rows = conn.execute(select(r.risk_case_events).where(e.case_id == case_id).order_by(e.seq))
    return [CaseEvent(int(row.seq), int(row.case_id), row.at, row.actor, row.action,
                      row.from_status, row.to_status, row.note, json.loads(row.detail))
            for row in rows]


@dataclass(frozen=True, slots=True)
class KeptBack:
    """What a payout run keeps back from one promoter for the active cases, and why."""

    amount_minor: int
    reason: str


def kept_back(conn: Connection, currency: str) -> dict[str, KeptBack]:
    """Per promoter: the released commission (available or already netted) that active cases
    put at risk: their orders' commission, every level. Only that much waits; the rest of the
    promoter's balance is paid as usual."""
    c, o = r.risk_cases.c, r.risk_case_orders.c
    rows = conn.execute(select(o.case_id, o.order_id, c.promoter_id).select_from(
        r.risk_case_orders.join(r.risk_cases, c.case_id == o.case_id)).where(
        c.status.in_(_ACTIVE_VALUES))).all()
    if not rows:
        return {}
    cases_of: dict[str, set[int]] = defaultdict(set)
    for case_id, order_id, _ in rows:
        cases_of[order_id].add(int(case_id))
    owner = {int(case_id): promoter for case_id, _, promoter in rows}
    amounts: dict[str, int] = defaultdict(int)
    why: dict[str, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    reversed_ = risk_reversed(conn, list(cases_of))
    for row in order_commissions(conn, list(cases_of)):
        if not row.released or row.currency != currency:
            continue
        amount = row.amount_minor - reversed_.get((row.order_id, row.promoter_id), 0)
        if amount <= 0:
            continue
        amounts[row.promoter_id] += amount
        for case_id in cases_of[row.order_id]:
            why[row.promoter_id][case_id] += 1
    return {promoter: KeptBack(amount, _reason(why[promoter], owner, amount, currency))
            for promoter, amount in sorted(amounts.items())}


def _reason(orders_by_case: dict[int, int], owner: dict[int, str], amount: int,
            currency: str) -> str:
    parts = [f"case #{case_id} about {owner[case_id]} ({count} released order"
             f"{'s' if count > 1 else ''})" for case_id, count in sorted(orders_by_case.items())]
    return (f"{format_amount(amount, currency)} {currency} kept back until risk "
            f"{'; '.join(parts)} is decided")


class CaseLabel(NamedTuple):
    """A decided case as a training label: confirmed = fraud, dismissed = honest."""

    case_id: int
    promoter_id: str
    status: str
    decided_at: datetime
    rules: tuple[str, ...]


MAX_LABELS = 1_000_000


def case_labels(conn: Connection, decided_by: datetime | None = None,
                limit: int = MAX_LABELS) -> list[CaseLabel]:
    """Confirmed and dismissed cases (decided by `decided_by`, if given), oldest decision first:
    the labels a supervised model learns from."""
    if not 1 <= limit <= MAX_LABELS:
        raise CaseError(f"limit: {limit} must be between 1 and {MAX_LABELS}")
    c, f = r.risk_cases.c, r.risk_case_flags.c
    query = (select(c.case_id, c.promoter_id, c.status, c.decided_at)
             .where(c.status.in_([s.value for s in DECIDED]))
             .order_by(c.decided_at, c.case_id).limit(limit))
    if decided_by is not None:
        query = query.where(c.decided_at <= decided_by)
    rows = conn.execute(query).all()
    rules: dict[int, set[str]] = defaultdict(set)
    ids = [int(row.case_id) for row in rows]
    for start in range(0, len(ids), 5_000):
        for case_id, rule in conn.execute(select(f.case_id, f.rule).where(
                f.case_id.in_(ids[start:start + 5_000]))):
            rules[int(case_id)].add(rule)
    return [CaseLabel(int(row.case_id), row.promoter_id, row.status, row.decided_at,
                      tuple(sorted(rules[int(row.case_id)]))) for row in rows]
