"""Through the books, with every plans v2 rule switched on at random: nothing is rejected that
the rules allow, promoters + platform + payment providers + merchants = paid - refunded at every
step, the ledger verifies, and refunding every order in full returns every party to zero. A plan
without v2 keys books exactly what the code before plans v2 booked (a stored digest)."""

from __future__ import annotations

import hashlib
import itertools
import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from settlement.db import create_db_engine, upgrade
from settlement.engine import APPLIED
from settlement.events import parse_event
from settlement.plan import PlanBook, parse_plan_text
from settlement.read_accounts import raw_balances
from settlement.service import apply_events, release_due, sort_events
from tests.conftest import DEFAULT_PLAN
from tests.settlement.helpers import assert_books_verified, at, settle
from tests.settlement.test_plans_v2_properties import OPTIONAL_KEYS

CHANNELS = [None, "wechat_pay", "card"]
PEOPLE = [("A", None, None), ("B", "A", "senior"), ("C", "B", None), ("D", "C", None),
          ("G", None, None)]


class Factory:
    def __init__(self) -> None:
        self.ids = itertools.count(1)

    def __call__(self, type_: str, ts: str, **fields: Any):
        return parse_event({"event_id": f"e{next(self.ids)}", "type": type_, "ts": ts, **fields})


def base_events(ev: Factory) -> list:
    events = []
    for index, (pid, parent, grade) in enumerate(PEOPLE):
        fields: dict[str, Any] = {"promoter_id": pid}
        if parent:
            fields["parent_id"] = parent
        if grade:
            fields["grade"] = grade
        if pid == "G":
            fields["agent_region"] = "east"
        events.append(ev("promoter_joined", f"2026-11-01T0{index}:00:00Z", **fields))
    events += [ev("touch", "2026-11-02T00:00:00Z", customer_id="x", promoter_id="D"),
               ev("touch", "2026-11-02T01:00:00Z", customer_id="x", promoter_id="C"),
               ev("touch", "2026-11-02T02:00:00Z", customer_id="y", promoter_id="G")]
    return events


@st.composite
def scenarios(draw):
    keys = draw(st.sets(st.sampled_from(sorted(OPTIONAL_KEYS)), min_size=3))
    if {"order_caps", "day_caps"} <= keys:
        keys = keys - {draw(st.sampled_from(["order_caps", "day_caps"]))}
    plan = DEFAULT_PLAN + "".join(OPTIONAL_KEYS[k] + "\n" for k in sorted(keys))
    orders = []
    for index in range(draw(st.integers(1, 6))):
        lines = [{"sku": f"s{i}", "category": draw(st.sampled_from(["food", "beauty",
                                                                     "electronics"])),
                  "amount": f"{draw(st.integers(1, 200_000)) / 100:.2f}",
                  "quantity": draw(st.integers(1, 3))} for i in range(draw(st.integers(1, 3)))]
        orders.append({
            "order_id": f"o{index}", "customer_id": draw(st.sampled_from(["x", "y"])),
            "merchant_id": draw(st.sampled_from(["m1", "m2"])), "currency": "CNY",
            "lines": lines, "hour": draw(st.integers(0, 40)),
            "payment_channel": draw(st.sampled_from(CHANNELS)),
            "region": draw(st.sampled_from([None, "east", "west"])),
            "refund": draw(st.booleans()), "confirm": draw(st.booleans())})
    return plan, orders


def order_events(ev: Factory, orders: list[dict[str, Any]]) -> list:
    events = []
    for order in orders:
        fields = {k: v for k, v in order.items()
                  if k not in ("hour", "refund", "confirm") and v is not None}
        ts = f"2026-11-{10 + order['hour'] // 24:02d}T{order['hour'] % 24:02d}:00:00Z"
        events.append(ev("order_paid", ts, **fields))
        if order["confirm"]:
            events.append(ev("order_confirmed", ts.replace(":00:00Z", ":10:00Z"),
                             order_id=order["order_id"]))
        if order["refund"]:
            first = order["lines"][0]
            half = f"{(int(first['amount'].replace('.', '')) // 2) / 100:.2f}"
            if half != "0.00":
                events.append(ev("order_refunded", ts.replace(":00:00Z", ":20:00Z"),
                                 order_id=order["order_id"],
                                 lines=[{"sku": first["sku"], "amount": half}]))
    return events


def conservation(books) -> tuple[int, int]:
    """(clearing, what every party holds): equal when money is conserved."""
    with books.connect() as conn:
        raw = raw_balances(conn)
    clearing = sum(v for (kind, _, _), v in raw.items() if kind == "clearing")
    others = -sum(v for (kind, _, _), v in raw.items() if kind != "clearing")
    return clearing, others


def paid_minus_refunded(books) -> int:
    with books.connect() as conn:
        row = conn.execute(text("SELECT COALESCE(SUM(gross_minor - refunded_minor), 0) "
                                "FROM orders")).scalar_one()
    return int(row)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.data_too_large])
@given(scenarios())
def test_every_rule_on_at_random_conserves_and_full_refunds_return_to_zero(tmp_path_factory,
                                                                           scenario):
    plan_text, orders = scenario
    plans = PlanBook(parse_plan_text(plan_text))
    books = create_db_engine(f"sqlite:///{tmp_path_factory.mktemp('v2') / 'books.db'}")
    upgrade(books)
    ev = Factory()
    events = base_events(ev) + order_events(ev, orders)
    outcomes = apply_events(books, plans, sort_events(events), 4)
    assert [o.reason for o in outcomes if o.status != APPLIED] == []
    release_due(books, plans, at("2026-12-31T00:00:00Z"))
    clearing, others = conservation(books)
    assert clearing == others == paid_minus_refunded(books)
    assert_books_verified(books)
    with books.connect() as conn:
        remaining = conn.execute(text("SELECT order_id, lines FROM orders")).all()
    refunds = []
    for order_id, lines in remaining:
        rest = [{"sku": sku, "amount": f"{(amount - refunded) / 100:.2f}"}
                for sku, _cat, amount, refunded in json.loads(lines) if amount > refunded]
        if rest:
            refunds.append(ev("order_refunded", "2027-01-01T00:00:00Z", order_id=order_id,
                              lines=rest))
    outcomes = apply_events(books, plans, sort_events(refunds), 4)
    assert {o.status for o in outcomes} <= {APPLIED}
    with books.connect() as conn:
        raw = raw_balances(conn)
    # Readable per party: a promoter's available is net of its clawback receivable.
    per_owner: dict[str, int] = {}
    for (_kind, owner, _currency), value in raw.items():
        per_owner[owner] = per_owner.get(owner, 0) + value
    assert {owner: v for owner, v in per_owner.items() if v} == {}
    assert_books_verified(books)
    books.dispose()


def books_digest(books) -> str:
    """A digest of everything the books hold: journal, postings, balances and orders."""
    with books.connect() as conn:
        parts = [conn.execute(text(query)).all() for query in (
            "SELECT entry_id, kind, occurred_at, event_id, plan_version_id FROM journal_entries "
            "ORDER BY entry_id",
            "SELECT entry_id, account_kind, owner_id, currency, amount_minor FROM postings "
            "ORDER BY entry_id, account_kind, owner_id",
            "SELECT account_kind, owner_id, currency, balance_minor FROM accounts "
            "ORDER BY account_kind, owner_id",
            "SELECT order_id, plan_version_id, gross_minor, refunded_minor, lines, "
            "beneficiaries, allocation, release_due_at, released_at FROM orders ORDER BY order_id",
            "SELECT promoter_id, parent_id, grade, suspended FROM promoters ORDER BY promoter_id")]
    return hashlib.sha256(repr(parts).encode()).hexdigest()


def v1_scenario(ev) -> list:
    events = [ev.join("2026-03-01T08:00:00Z", "A"), ev.join("2026-03-01T09:00:00Z", "B", "A"),
              ev.join("2026-03-01T10:00:00Z", "C", "B"),
              ev.touch("2026-03-02T10:00:00Z", "x", "C"),
              ev.touch("2026-03-02T11:00:00Z", "x", "B"),
              ev.paid("2026-03-02T12:00:00Z", "o1", "x", ("a", "food", "333.33"),
                      ("b", "electronics", "1999.99")),
              ev.paid("2026-03-03T12:00:00Z", "o2", "x", ("a", "home", "10.01")),
              ev.confirmed("2026-03-04T00:00:00Z", "o1"),
              ev.refunded("2026-03-05T00:00:00Z", "o2", ("a", "3.33")),
              ev.refunded("2026-03-20T00:00:00Z", "o1", ("b", "999.99"))]
    return events


# Settled by the code before plans v2 (commit 63de5de) on SQLite: the books must stay the same.
V1_DIGEST = "66377214706a0c55ac831a6267263dfd05bd4700083854d0caf25e3ed86bf099"


def test_a_plan_without_v2_keys_books_exactly_as_before(sqlite_url, ev):
    books = create_db_engine(sqlite_url)
    upgrade(books)
    settle(books, PlanBook(parse_plan_text(DEFAULT_PLAN)), v1_scenario(ev),
           as_of="2026-03-30T00:00:00Z")
    assert books_digest(books) == V1_DIGEST
    books.dispose()
