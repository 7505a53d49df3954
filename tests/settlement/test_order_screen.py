"""The order-time screen: an order paid from its promoter's (or the inviter's) own device or IP,
or above the commission cap, is booked as usual but its commission stays pending until the case
it opened is decided; honest orders release as before, and refunds never release a held order."""

from __future__ import annotations

from sqlalchemy import select

from settlement import risk_tables as r
from settlement.order_screen import OrderScreen
from settlement.read_model import held_orders, promoter_balances
from settlement.risk_actions import confirm_case, dismiss_case
from settlement.risk_cases import case_flags, list_cases
from settlement.service import apply_batch
from tests.settlement.helpers import assert_books_verified, settle


def _paid(ev, ts, order, customer, amount="1000.00", **device):
    return ev("order_paid", ts, order_id=order, customer_id=customer, merchant_id="m1",
              currency="CNY", lines=[{"sku": "s", "category": "food", "amount": amount}],
              **device)


def _mall(ev):
    return [ev.join("2026-03-01T00:00:00Z", "U", device_hash="dU", ip_hash="iU"),
            ev.join("2026-03-01T00:01:00Z", "P", "U", device_hash="dP", ip_hash="iP"),
            *(ev.touch("2026-03-02T09:00:00Z", c, "P") for c in ("c1", "c2", "c3")),
            _paid(ev, "2026-03-02T10:00:00Z", "own", "c1", device_hash="dP", ip_hash="iX"),
            _paid(ev, "2026-03-02T10:00:00Z", "upline", "c2", device_hash="dZ", ip_hash="iU"),
            _paid(ev, "2026-03-02T10:00:00Z", "honest", "c3", device_hash="dC", ip_hash="iC"),
            *(ev.confirmed("2026-03-02T12:00:00Z", o) for o in ("own", "upline", "honest"))]


def _cases(books):
    with books.connect() as conn:
        return {c.promoter_id: c for c in list_cases(conn)}


def test_self_referral_holds_the_order_and_opens_a_case(books, plans, ev):
    settle(books, plans, _mall(ev), as_of="2026-03-20T00:00:00Z")  # holds ended on day 9
    [case] = _cases(books).values()
    with books.connect() as conn:
        assert held_orders(conn, ["own", "upline", "honest"]) == {"own", "upline"}
        balances = promoter_balances(conn, "CNY")
        flags = case_flags(conn, case.case_id)
    assert balances["P"].available_minor == 10_000 and balances["P"].pending_minor == 20_000
    assert balances["U"].available_minor == 5_000 and balances["U"].pending_minor == 10_000
    assert case.promoter_id == "P" and case.order_count == 2 and case.status == "open"
    assert case.money_at_risk_minor == 30_000  # P 10% and U 5% of both held orders
    assert {(f.rule, f.source, f.evidence["matched"]) for f in flags} == {
        ("self_referral", "order", "own"), ("self_referral", "order", "upline")}
    assert_books_verified(books)


def test_a_refund_after_the_due_date_never_releases_a_held_order(books, plans, ev):
    settle(books, plans, _mall(ev) + [ev.refunded("2026-03-12T00:00:00Z", "own", ("s", "400.00"))],
           as_of="2026-03-12T00:00:00Z")
    with books.connect() as conn:
        balances = promoter_balances(conn, "CNY")
    assert balances["P"].pending_minor == 6_000 + 10_000  # own: 10% of 600 left; upline
    assert balances["P"].clawback_minor == 0
    assert_books_verified(books)


def test_deciding_the_case_reverses_or_releases_the_held_commission(books, plans, ev):
    settle(books, plans, _mall(ev), as_of="2026-03-20T00:00:00Z")
    case = _cases(books)["P"]
    decision = dismiss_case(books, case.case_id, "ana", "shared family phone")
    assert decision.released_orders == ("own", "upline")  # due on day 9: released at once
    with books.connect() as conn:
        assert held_orders(conn, ["own", "upline"]) == set()
        assert promoter_balances(conn, "CNY")["P"].available_minor == 30_000
    assert_books_verified(books)


def test_confirming_an_order_time_case_reverses_from_pending(books, plans, ev):
    settle(books, plans, _mall(ev), as_of="2026-03-20T00:00:00Z")
    decision = confirm_case(books, plans, _cases(books)["P"].case_id, "ana")
    assert decision.per_promoter_minor == {"P": 20_000, "U": 10_000}
    with books.connect() as conn:
        balances = promoter_balances(conn, "CNY")
    assert balances["P"].pending_minor == 0 and balances["P"].available_minor == 10_000
    assert_books_verified(books)


def test_the_cap_holds_orders_above_it_when_set(books, plans, ev):
    events = [ev.join("2026-03-01T00:00:00Z", "P"), ev.touch("2026-03-02T09:00:00Z", "c1", "P"),
              _paid(ev, "2026-03-02T10:00:00Z", "big", "c1", amount="5000.00"),
              _paid(ev, "2026-03-02T11:00:00Z", "small", "c1", amount="100.00")]
    with books.begin() as conn:
        apply_batch(conn, plans, events, screen=OrderScreen(cap_per_order_minor=30_000))
        assert held_orders(conn, ["big", "small"]) == {"big"}
        reason = conn.execute(select(r.order_holds.c.reason)).scalar_one()
    assert "commission 500.00 CNY of P on one order is above the cap of 300.00" in reason


def test_the_screen_can_be_turned_off(books, plans, ev):
    with books.begin() as conn:
        apply_batch(conn, plans, _mall(ev), screen=OrderScreen(enabled=False))
        assert held_orders(conn, ["own", "upline"]) == set()
        assert conn.execute(select(r.risk_cases)).first() is None


def test_a_refund_with_the_screen_off_still_respects_a_hold(books, plans, ev):
    settle(books, plans, _mall(ev), as_of="2026-03-05T00:00:00Z")
    with books.begin() as conn:
        apply_batch(conn, plans, [ev.refunded("2026-03-12T00:00:00Z", "own", ("s", "1.00"))],
                    screen=OrderScreen(enabled=False))
        assert held_orders(conn, ["own"]) == {"own"}
        assert promoter_balances(conn, "CNY")["P"].clawback_minor == 0  # never released
