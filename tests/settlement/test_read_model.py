"""Proves the read model's definitions once, on hand-built books: orders with lines and shares,
refunds (what left clearing), commissions (earned, reversed before and after release), events,
balances and holds, each point-in-time (nothing booked after `as_of` is visible), and the same
answers on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime
from fractions import Fraction

import pytest
from sqlalchemy import Engine

from settlement import read_model as books
from settlement.db import create_db_engine, upgrade
from settlement.engine import EventStatus
from settlement.ledger import AccountKind
from tests.settlement.helpers import at, settle


def _mall(ev):  # noqa: ANN001, ANN202
    """A (L1) invites B; x buys twice through B; o1 is refunded before and after its release."""
    return [
        ev.join("2026-03-01T08:00:00Z", "A", device_hash="dA"),
        ev.join("2026-03-01T09:00:00Z", "B", "A", device_hash="dB"),
        ev("touch", "2026-03-02T10:00:00Z", customer_id="x", promoter_id="B", kind="register",
           channel="wechat_chat"),
        ev.paid("2026-03-02T10:05:00Z", "o1", "x", ("tea", "food", "100.00"),
                ("cup", "home", "50.00")),
        ev.refunded("2026-03-03T10:00:00Z", "o1", ("cup", "50.00")),  # before release
        ev.confirmed("2026-03-04T00:00:00Z", "o1"),  # released 2026-03-11
        ev.refunded("2026-03-20T00:00:00Z", "o1", ("tea", "40.00")),  # after release: clawback
        ev.paid("2026-03-25T00:00:00Z", "o2", "x", ("pen", "office", "200.00")),
    ]


@pytest.fixture
def settled(books: Engine, plans, ev) -> Engine:  # noqa: ANN001
    outcomes = settle(books, plans, _mall(ev))
    assert {o.status for o in outcomes} == {EventStatus.APPLIED}
    return books


def _read(engine: Engine, reader, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
    with engine.connect() as conn:
        return reader(conn, *args, **kwargs)


def test_orders_carry_their_lines_and_level_shares_as_paid(settled: Engine) -> None:
    paid = _read(settled, books.read_orders, lines=True, shares=True)
    assert [o.order_id for o in paid.orders] == ["o1", "o2"]
    assert paid.orders[0].gross_minor == 15000  # as paid: refunds are not subtracted here
    assert sorted(paid.lines) == [("o1", "cup", "home", 5000), ("o1", "tea", "food", 10000),
                                  ("o2", "pen", "office", 20000)]
    assert sorted(s for s in paid.shares if s.order_id == "o1") == [
        ("o1", "A", 2, Fraction(1)), ("o1", "B", 1, Fraction(1))]
    level_one = _read(settled, books.read_orders, shares=True, share_levels=(1,))
    assert {(s.order_id, s.promoter_id) for s in level_one.shares} == {("o1", "B"), ("o2", "B")}


def test_an_order_paid_after_as_of_is_invisible_and_later_states_are_masked(
        settled: Engine) -> None:
    early = _read(settled, books.read_orders, at("2026-03-03T00:00:00Z")).orders
    assert [o.order_id for o in early] == ["o1"]
    assert early[0].confirmed_at is None and early[0].release_due_at is None
    assert early[0].released_at is None
    later = _read(settled, books.read_orders, at("2026-03-12T00:00:00Z")).orders
    assert later[0].confirmed_at == at("2026-03-04T00:00:00Z")
    assert later[0].release_due_at == later[0].released_at == at("2026-03-11T00:00:00Z")


def test_a_refund_is_what_left_clearing_at_its_own_instant(settled: Engine) -> None:
    assert sorted(_read(settled, books.refunds)) == [
        ("o1", at("2026-03-03T10:00:00Z"), 5000), ("o1", at("2026-03-20T00:00:00Z"), 4000)]
    assert _read(settled, books.refunds, at("2026-03-19T00:00:00Z")) == [
        ("o1", at("2026-03-03T10:00:00Z"), 5000)]  # the later refund is invisible before it
    assert _read(settled, books.refunds, currency="USD") == []


def test_commission_is_earned_minus_reversals_before_and_after_release(settled: Engine) -> None:
    rows = _read(settled, books.commissions, levels=True)
    by_promoter: dict[str, int] = {}
    for row in rows:
        by_promoter[row.promoter_id] = by_promoter.get(row.promoter_id, 0) + row.amount_minor
    # B (L1, 10 %): 15.00 on o1, -5.00 refunded while pending, -4.00 clawed back, 20.00 on o2.
    assert by_promoter == {"B": 2600, "A": 1300}  # A (L2, 5 %): 7.50 - 2.50 - 2.00 + 10.00
    clawback = [r for r in rows if r.occurred_at == at("2026-03-20T00:00:00Z")]
    assert sorted((r.promoter_id, r.level, r.amount_minor) for r in clawback) == [
        ("A", 2, -200), ("B", 1, -400)]
    assert {r.order_id for r in rows} == {"o1", "o2"}
    early = _read(settled, books.commissions, at("2026-03-19T00:00:00Z"))
    assert sum(r.amount_minor for r in early) == 1500 - 500 + 750 - 250
    assert all(r.level is None for r in early)  # levels are decoded only when asked for


def test_commission_equals_what_the_promoters_balances_hold(settled: Engine) -> None:
    """The definition agrees with the ledger: pending + available - clawback, nothing paid out."""
    earned: dict[str, int] = {}
    for row in _read(settled, books.commissions):
        earned[row.promoter_id] = earned.get(row.promoter_id, 0) + row.amount_minor
    balances = _read(settled, books.promoter_balances, "CNY")
    assert earned == {pid: b.pending_minor + b.available_minor + b.paid_minor
                      for pid, b in balances.items()}


def test_applied_events_give_their_payload_fields(settled: Engine) -> None:
    joins = _read(settled, books.applied_events, "promoter_joined",
                  ("promoter_id", "parent_id", "device_hash"))
    assert sorted(row[1:] for row in joins.rows) == [("A", None, "dA"), ("B", "A", "dB")]
    touches = _read(settled, books.applied_events, "touch", ("channel",),
                    at("2026-03-01T23:00:00Z"))
    assert touches.rows == []


def test_promoters_touches_and_bindings_as_of(settled: Engine) -> None:
    assert [p.promoter_id for p in _read(settled, books.promoters,
                                         at("2026-03-01T08:30:00Z"))] == ["A"]
    assert _read(settled, books.touches) == [
        ("x", "B", at("2026-03-02T10:00:00Z"), "register", "wechat_chat")]
    assert _read(settled, books.customer_bindings) == [("x", "B", at("2026-03-02T10:00:00Z"))]
    assert _read(settled, books.customer_bindings, at("2026-03-02T09:00:00Z")) == []
    assert _read(settled, books.last_event_at) == at("2026-03-25T00:00:00Z")
    assert _read(settled, books.order_currencies) == {"CNY": 2}


def test_balances_as_of_are_summed_from_the_journal_up_to_then(settled: Engine) -> None:
    now = _read(settled, books.promoter_balances, "CNY")
    assert now["B"].pending_minor == 2000 and now["B"].available_minor == 1000 - 400
    assert now["B"].clawback_minor == 400
    then = _read(settled, books.promoter_balances, "CNY", as_of=at("2026-03-10T00:00:00Z"))
    assert (then["B"].pending_minor, then["B"].available_minor) == (1000, 0)
    clearing = [r for r in _read(settled, books.account_balances, at("2026-03-10T00:00:00Z"))
                if r.account_kind == AccountKind.CLEARING]
    assert [r.raw_minor for r in clearing] == [10000]  # 150.00 paid - 50.00 refunded


def test_holds_are_orders_not_released_by_then(settled: Engine) -> None:
    assert _read(settled, books.holds, at("2026-03-03T00:00:00Z")) == [
        ("o1", "CNY", at("2026-03-02T10:05:00Z"), None, None)]  # not confirmed yet
    assert _read(settled, books.holds, at("2026-03-05T00:00:00Z")) == [
        ("o1", "CNY", at("2026-03-02T10:05:00Z"), at("2026-03-04T00:00:00Z"),
         at("2026-03-11T00:00:00Z"))]
    assert [h.order_id for h in _read(settled, books.holds, at("2026-03-26T00:00:00Z"))] == [
        "o2"]


def _everything(engine: Engine, as_of: datetime | None) -> dict[str, object]:
    with engine.connect() as conn:
        paid = books.read_orders(conn, as_of, lines=True, shares=True)
        return {
            "orders": sorted(paid.orders), "lines": sorted(paid.lines),
            "shares": sorted(paid.shares), "refunds": sorted(books.refunds(conn, as_of)),
            "commissions": sorted(books.commissions(conn, as_of, levels=True)),
            "touches": sorted(books.touches(conn, as_of)),
            "bindings": sorted(books.customer_bindings(conn, as_of)),
            "promoters": sorted(books.promoters(conn, as_of)),
            "joins": sorted(books.applied_events(conn, "promoter_joined",
                                                 ("promoter_id", "device_hash"), as_of).rows),
            "balances": books.promoter_balances(conn, "CNY", as_of=as_of),
            "holds": books.holds(conn, as_of) if as_of else None,
        }


@pytest.mark.integration
def test_sqlite_and_postgresql_give_the_same_answers(sqlite_url: str, postgres_url: str,
                                                     plans, ev) -> None:  # noqa: ANN001
    events = _mall(ev)
    answers = []
    for url in (sqlite_url, postgres_url):
        engine = create_db_engine(url)
        upgrade(engine)
        settle(engine, plans, events)
        answers.append([_everything(engine, as_of) for as_of in
                        (None, at("2026-03-10T00:00:00Z"), at("2026-03-21T00:00:00Z"))])
        engine.dispose()
    assert answers[0] == answers[1]
    assert answers[0][0]["commissions"] and answers[0][1]["holds"]
