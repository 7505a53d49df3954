"""Risk cases: flags group per promoter, re-scans never duplicate, every move is audited, and a
confirmed case claws back exactly the fraudulent commission at every level, leaving every honest
balance untouched to the fen, however many times it is confirmed."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from settlement import risk_tables as r
from settlement.errors import NotFound
from settlement.payouts import run_payouts
from settlement.read_model import held_orders, promoter_balances
from settlement.reports import verify_ledger
from settlement.risk_actions import confirm_case, dismiss_case, investigate_case
from settlement.risk_cases import (
    case_events,
    case_labels,
    case_order_ids,
    get_case,
    list_cases,
    record_flags,
)
from settlement.risk_domain import CaseError, CaseStatus, RiskFlag
from tests.settlement.helpers import assert_books_verified, at, settle

DAY = "2026-03-{:02d}T{}:00Z"


def _mall(ev):
    """G invites U, U invites F (the fraudster) and H (honest); H2 is unrelated.

    F's orders f1 (confirmed day 2: released day 9 and paid out day 10), f2 (confirmed day 9:
    pending on day 10) and f3 (never confirmed). H's order h1 feeds the same upline U and G.
    """
    events = [ev.join(DAY.format(1, "00:00"), "G"), ev.join(DAY.format(1, "00:01"), "U", "G"),
              ev.join(DAY.format(1, "00:02"), "F", "U"), ev.join(DAY.format(1, "00:03"), "H", "U"),
              ev.join(DAY.format(1, "00:04"), "H2")]
    for order, customer, promoter, amount, day, confirm in (
            ("f1", "cf1", "F", "2000.00", 2, 2), ("f2", "cf2", "F", "1500.00", 3, 9),
            ("f3", "cf3", "F", "999.00", 4, None), ("h1", "ch1", "H", "3000.00", 2, 2),
            ("x1", "cx1", "H2", "2500.00", 2, 2)):
        events += [ev.touch(DAY.format(day, "09:00"), customer, promoter),
                   ev.paid(DAY.format(day, "10:00"), order, customer, ("s", "food", amount))]
        if confirm:
            events.append(ev.confirmed(DAY.format(confirm, "12:00"), order))
    return events


@pytest.fixture
def mall(books, plans, ev):
    settle(books, plans, _mall(ev), as_of="2026-03-10T00:00:00Z")
    run_payouts(books, plans, at("2026-03-10T00:00:00Z"))
    return books


def _flag(promoter="F", rule="self_referral", orders=("f1", "f2", "f3"), **evidence):
    return RiskFlag(promoter, rule, "high", {"orders": list(orders), **evidence})


def _balances(books):
    with books.connect() as conn:
        return promoter_balances(conn, "CNY")


def _open(books, *flags):
    with books.begin() as conn:
        return record_flags(conn, list(flags), at("2026-03-10T01:00:00Z"))


def test_flags_group_per_promoter_and_a_rescan_duplicates_nothing(mall):
    [case_id] = _open(mall, _flag(), _flag(rule="device_farm", devices=["d1"]))
    assert _open(mall, _flag(), _flag(rule="device_farm", devices=["d1"])) == [case_id]
    with mall.connect() as conn:
        case = get_case(conn, case_id)
        assert case.rules == ("device_farm", "self_referral") and case.order_count == 3
        # F 10% + U 5% + G 2% of 2000 + 1500 + 999 = 17% of 4499.00
        assert case.money_at_risk_minor == 76_483
        assert [e.action for e in case_events(conn, case_id)] == ["opened", "flagged",
                                                                  "flagged"]
    [same] = _open(mall, _flag(rule="velocity", orders=("f1", "h1")))  # a new flag joins
    with mall.connect() as conn:
        assert same == case_id and case_order_ids(conn, case_id) == ["f1", "f2", "f3", "h1"]


def test_cases_list_by_money_at_risk(mall):
    [small] = _open(mall, _flag("H2", orders=("x1",)))
    [big] = _open(mall, _flag("F"))
    with mall.connect() as conn:
        assert [c.case_id for c in list_cases(conn)] == [big, small]


def test_confirming_claws_back_exactly_the_fraud_at_every_level(mall, plans):
    before = _balances(mall)
    [case_id] = _open(mall, _flag())
    investigate_case(mall, case_id, "ana", "looking at the devices")
    decision = confirm_case(mall, plans, case_id, "ana", "same phone as the promoter")
    assert decision.changed and decision.suspended
    # f1 was released and paid: claw-back; f2 and f3 still pending: reversed and frozen
    assert decision.per_promoter_minor == {"F": 44_990, "G": 8_998, "U": 22_495}
    assert sorted(decision.held_orders) == ["f2", "f3"]
    after = _balances(mall)
    assert after["F"].pending_minor == 0 and after["F"].available_minor == -20_000
    assert after["U"].pending_minor == before["U"].pending_minor - 7_500 - 4_995
    assert after["U"].available_minor == before["U"].available_minor - 10_000
    assert after["G"].pending_minor == before["G"].pending_minor - 3_000 - 1_998
    for honest in ("H", "H2"):
        assert after[honest] == before[honest]
    again = confirm_case(mall, plans, case_id, "bob", "confirming twice")
    assert not again.changed and again.reversed_minor == 0 and _balances(mall) == after
    with mall.connect() as conn:
        actions = [e.action for e in case_events(conn, case_id)]
        assert actions == ["opened", "flagged", "investigating", "confirmed"]
        assert get_case(conn, case_id).status == CaseStatus.CONFIRMED
    assert_books_verified(mall)


def test_frozen_orders_are_never_released_and_later_orders_earn_nothing(mall, plans, ev):
    [case_id] = _open(mall, _flag())
    confirm_case(mall, plans, case_id, "ana")
    settle(mall, plans, [ev.confirmed(DAY.format(12, "00:00"), "f3"),
                         ev.touch(DAY.format(12, "01:00"), "cf9", "F"),
                         ev.paid(DAY.format(12, "02:00"), "f9", "cf9", ("s", "food", "100.00"))],
           as_of="2026-03-30T00:00:00Z")
    balances = _balances(mall)
    assert balances["F"].pending_minor == 0  # f2, f3 held and reversed; f9 pays a suspended F
    assert balances["U"].pending_minor == 500  # suspension semantics: the upline earns on f9
    assert_books_verified(mall)


def test_dismissing_lifts_holds_and_says_why(mall, plans):
    [case_id] = _open(mall, _flag())
    with pytest.raises(CaseError, match="say why"):
        dismiss_case(mall, case_id, "ana", " ")
    decision = dismiss_case(mall, case_id, "ana", "family shares one phone")
    assert decision.changed and decision.case.status == CaseStatus.DISMISSED
    assert not dismiss_case(mall, case_id, "ana", "again").changed
    with pytest.raises(CaseError, match="dismissed; it cannot be confirmed"):
        confirm_case(mall, plans, case_id, "bob")
    with mall.connect() as conn:
        trail = case_events(conn, case_id)
    assert trail[-1].note == "family shares one phone" and trail[-1].actor == "ana"


def test_a_decided_case_cannot_move_and_unknown_cases_are_named(mall, plans):
    [case_id] = _open(mall, _flag())
    confirm_case(mall, plans, case_id, "ana")
    with pytest.raises(CaseError, match="confirmed; it cannot be dismissed"):
        dismiss_case(mall, case_id, "ana", "oops")
    with pytest.raises(CaseError, match="cannot become investigating"):
        investigate_case(mall, case_id, "ana")
    with pytest.raises(NotFound, match="no risk case 999"):
        confirm_case(mall, plans, 999, "ana")
    with pytest.raises(CaseError, match="must name who acted"):
        confirm_case(mall, plans, case_id, "")


def test_decided_cases_are_labels(mall, plans):
    [fraud] = _open(mall, _flag())
    [honest] = _open(mall, _flag("H2", "velocity", ("x1",)))
    confirm_case(mall, plans, fraud, "ana")
    dismiss_case(mall, honest, "ana", "a promotion")
    with mall.connect() as conn:
        labels = case_labels(conn)
    assert [(x.case_id, x.promoter_id, x.status, x.rules) for x in labels] == [
        (fraud, "F", "confirmed", ("self_referral",)), (honest, "H2", "dismissed", ("velocity",))]


def test_a_new_case_opens_after_a_decision(mall, plans):
    [first] = _open(mall, _flag())
    dismiss_case(mall, first, "ana", "fine")
    [second] = _open(mall, _flag())
    assert second != first
    with mall.connect() as conn:
        assert conn.execute(select(r.risk_cases.c.status).order_by(
            r.risk_cases.c.case_id)).scalars().all() == ["dismissed", "open"]


@pytest.mark.integration
def test_racing_confirmations_and_releases_book_the_reversal_once(postgres_url, plans, ev):
    """Four people confirm the same case while a release job runs, on PostgreSQL: one
    confirmation books, the others find it done, and the release never moves commission the
    confirmation already reversed from pending."""
    from concurrent.futures import ThreadPoolExecutor

    from settlement.db import create_db_engine, upgrade
    from settlement.service import release_due

    books = create_db_engine(postgres_url)
    upgrade(books)
    settle(books, plans, _mall(ev), as_of="2026-03-10T00:00:00Z")
    before = _balances(books)
    [case_id] = _open(books, _flag())
    with ThreadPoolExecutor(5) as pool:
        jobs = [pool.submit(confirm_case, books, plans, case_id, f"p{i}") for i in range(4)]
        jobs.append(pool.submit(release_due, books, plans, at("2026-03-30T00:00:00Z")))
        decisions = [job.result() for job in jobs[:4]]
        jobs[4].result()
    assert sum(d.changed for d in decisions) == 1
    after = _balances(books)
    # Whichever won: f2 frozen and reversed from pending, or released first and clawed back.
    # A release slipping in between the confirmation's read and its write would leave F
    # -150.00 pending and +150.00 available instead.
    assert after["F"].pending_minor == 0
    assert after["F"].available_minor == before["F"].available_minor - 20_000
    with books.connect() as conn:
        assert "f3" in held_orders(conn, ["f2", "f3"])
        assert verify_ledger(conn) == []
    books.dispose()
