"""Promoter terms (issue 15) on worked examples computed by hand (in the comments): a promoter's
own hold (0 = released at confirmation) decides its orders' hold, refunds after such a release
are clawed back; a monthly guarantee is posted once per ended local month from the level-1
commission as it stands then, funded by the platform, never changed by later refunds or runs."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from typer.testing import CliRunner

from api.cli import app
from settlement import tables as t
from settlement.db import create_db_engine, upgrade
from settlement.errors import PlanError
from settlement.events import OrderPaid
from settlement.explain import describe_guarantee
from settlement.plan import PlanBook, parse_plan_text
from settlement.plan_store import store_versions
from settlement.read_model import guarantee_months
from settlement.service import release_due
from tests.conftest import DEFAULT_PLAN, EventFactory
from tests.settlement.helpers import assert_books_verified, at, balances, promoter, settle


def book(extra: str) -> PlanBook:
    return PlanBook(parse_plan_text(DEFAULT_PLAN + extra))


def stored(books, plans: PlanBook) -> PlanBook:
    """The plan also stored in the books (the read model reads the guarantee from there)."""
    with books.begin() as conn:
        store_versions(conn, plans.versions)
    return plans


def revenue(books) -> str:
    return balances(books)["platform"]["revenue"]


def entries(books, kind: str) -> list[tuple[str, str]]:
    j, p = t.journal_entries.c, t.postings.c
    with books.connect() as conn:
        rows = conn.execute(select(j.entry_id, j.occurred_at, p.account_kind, p.amount_minor)
                            .join(t.postings, p.entry_id == j.entry_id).where(j.kind == kind)
                            .order_by(j.entry_id, p.account_kind)).all()
    return [(r[0], r[1].isoformat(), r[2], r[3]) for r in rows]


# Hold days ---------------------------------------------------------------------------------

HOLDS = 'promoter_terms: {P9: {hold_days: 0}, Q: {hold_days: 3}}\n'


def family(ev) -> list:
    return [ev.join("2026-03-01T00:00:00Z", "P1"), ev.join("2026-03-01T00:01:00Z", "P9", "P1"),
            ev.join("2026-03-01T00:02:00Z", "Q", "P1"), ev.join("2026-03-01T00:03:00Z", "R", "P1")]


def test_hold_days_zero_releases_at_confirmation_and_a_later_refund_is_clawed_back(books, ev):
    # Plan hold 7 days; P9's terms hold 0. Food 10% / 5%, platform 5%.
    # o1 (P9 level 1, P1 level 2) 100.00: P9 10.00, P1 5.00, platform 5.00, confirmed 03-03
    #   -> hold 0: released at 03-03T00:00 with its level 2 (P1 follows the order's hold).
    # o2 (R, no terms) 100.00: R 10.00, P1 5.00, confirmed 03-03 -> due 03-10.
    events = family(ev) + [
        ev.touch("2026-03-02T09:00:00Z", "c1", "P9"),
        ev.paid("2026-03-02T10:00:00Z", "o1", "c1", ("a", "food", "100.00")),
        ev.touch("2026-03-02T09:00:00Z", "c2", "R"),
        ev.paid("2026-03-02T10:00:00Z", "o2", "c2", ("a", "food", "100.00")),
        ev.confirmed("2026-03-03T00:00:00Z", "o1"), ev.confirmed("2026-03-03T00:00:00Z", "o2")]
    settle(books, book(HOLDS), events)
    assert promoter(books, "P9") == {"pending": "0.00", "available": "10.00", "paid": "0.00"}
    assert promoter(books, "P1") == {"pending": "5.00", "available": "5.00", "paid": "0.00"}
    assert promoter(books, "R")["pending"] == "10.00"
    # Refund 40.00 of o1 after its release: P9 6.00 (claw back 4.00), P1 3.00 (claw back 2.00),
    # platform 3.00. P9 available 10.00 - 4.00 = 6.00; P1 5.00 - 2.00 = 3.00.
    settle(books, book(HOLDS), [ev.refunded("2026-03-04T00:00:00Z", "o1", ("a", "40.00"))])
    assert promoter(books, "P9")["available"] == "6.00"
    assert promoter(books, "P1") == {"pending": "5.00", "available": "3.00", "paid": "0.00"}
    assert revenue(books) == "8.00"
    release_due(books, book(HOLDS), at("2026-03-10T00:00:00Z"))  # o2's plan hold is over
    assert promoter(books, "R") == {"pending": "0.00", "available": "10.00", "paid": "0.00"}
    assert promoter(books, "P1")["available"] == "8.00"
    assert_books_verified(books)


def test_an_order_with_two_level_one_promoters_waits_for_the_longer_hold(books, ev):
    # Position 60/40: P9 first (hold 0), Q last (hold 3): the order's hold is 3 days.
    # o3 100.00: P9 6.00, Q 4.00, P1 level 2 5.00. Confirmed 03-03 -> due 03-06.
    # o4, P9 and R (no terms: the plan's 7) -> due 03-10.
    events = family(ev) + [
        ev.touch("2026-03-02T09:00:00Z", "c3", "P9"), ev.touch("2026-03-02T09:30:00Z", "c3", "Q"),
        ev.paid("2026-03-02T10:00:00Z", "o3", "c3", ("a", "food", "100.00")),
        ev.touch("2026-03-02T09:00:00Z", "c4", "P9"), ev.touch("2026-03-02T09:30:00Z", "c4", "R"),
        ev.paid("2026-03-02T10:00:00Z", "o4", "c4", ("a", "food", "100.00")),
        ev.confirmed("2026-03-03T00:00:00Z", "o3"), ev.confirmed("2026-03-03T00:00:00Z", "o4")]
    settle(books, book(HOLDS), events, as_of="2026-03-05T23:59:59Z")
    assert promoter(books, "Q") == {"pending": "4.00", "available": "0.00", "paid": "0.00"}
    release_due(books, book(HOLDS), at("2026-03-06T00:00:00Z"))
    assert promoter(books, "Q") == {"pending": "0.00", "available": "4.00", "paid": "0.00"}
    assert promoter(books, "P9") == {"pending": "6.00", "available": "6.00", "paid": "0.00"}
    release_due(books, book(HOLDS), at("2026-03-10T00:00:00Z"))
    assert promoter(books, "P9") == {"pending": "0.00", "available": "12.00", "paid": "0.00"}
    assert_books_verified(books)


def test_terms_are_per_version_and_a_later_version_without_them_holds_as_the_plan(books, ev):
    # Version 2 (from 03-02T12:00) has no promoter_terms: o6 paid under it waits 7 days.
    later = DEFAULT_PLAN.replace("2026-01-01T00:00:00Z", "2026-03-02T12:00:00Z")
    plans = PlanBook(parse_plan_text(DEFAULT_PLAN + HOLDS + "---\n" + later))
    events = family(ev) + [
        ev.touch("2026-03-02T09:00:00Z", "c1", "P9"),
        ev.paid("2026-03-02T10:00:00Z", "o5", "c1", ("a", "food", "100.00")),
        ev.paid("2026-03-02T13:00:00Z", "o6", "c1", ("a", "food", "50.00")),
        ev.confirmed("2026-03-03T00:00:00Z", "o5"), ev.confirmed("2026-03-03T00:00:00Z", "o6")]
    settle(books, plans, events)
    assert promoter(books, "P9") == {"pending": "5.00", "available": "10.00", "paid": "0.00"}


def test_a_version_with_terms_only_stays_on_the_v1_path():
    version = book(HOLDS).versions[0]
    assert version.rules is None
    assert version.hold_days_of("P9") == 0 and version.hold_days_of("Q") == 3
    assert version.hold_days_of("X") == 7
    assert version.document["promoter_terms"] == {
        "P9": {"hold_days": 0, "guarantee": None}, "Q": {"hold_days": 3, "guarantee": None}}
    assert "promoter_terms" not in PlanBook(parse_plan_text(DEFAULT_PLAN)).versions[0].document


@pytest.mark.parametrize(("terms", "message"), [
    ("{P9: {hold_days: 366}}", "promoter_terms.P9.hold_days"),
    ("{P9: {hold_days: -1}}", "promoter_terms.P9.hold_days"),
    ("{P9: {}}", "promoter_terms.P9: name hold_days, a guarantee or both"),
    ("{P9: {hold: 3}}", "promoter_terms.P9.hold"),
    ('{P9: {guarantee: {per_month: "200.00", months: 0}}}', "promoter_terms.P9.guarantee.months"),
    ('{P9: {guarantee: {per_month: "200.00", months: 37}}}',
     "promoter_terms.P9.guarantee.months"),
    ('{P9: {guarantee: {per_month: "0.00", months: 3}}}', "guarantees nothing"),
    ('{P9: {guarantee: {per_month: "1.234", months: 3}}}', "promoter_terms.P9.guarantee.per_month"),
    ('{P9: {guarantee: {per_month: "-5", months: 3}}}', "promoter_terms.P9.guarantee.per_month"),
    ('{P9: {guarantee: {per_month: "99999999999999.00", months: 3}}}',
     "promoter_terms.P9.guarantee.per_month"),
    ("{P9: {guarantee: {per_month: 200, months: 3}}}", "quote decimals"),
])
def test_bad_terms_are_refused_naming_the_key(terms, message):
    with pytest.raises(PlanError, match=message.replace(".", r"\.")):
        book(f"promoter_terms: {terms}\n")


# Guarantees --------------------------------------------------------------------------------

GUARANTEE = ('timezone: Asia/Shanghai\n'
             'promoter_terms: {P12: {guarantee: {per_month: "200.00", months: 3}}}\n')


def guaranteed_mall(ev) -> list:
    """P12 (guarantee 200.00 a month, Jan-Mar local Asia/Shanghai) and K, its invitee."""
    def buy(ts: str, order: str, customer: str, promoter_id: str, amount: str) -> list:
        return [ev.touch(ts[:11] + "00:00:00Z", customer, promoter_id),  # that UTC day
                ev.paid(ts, order, customer, ("a", "food", amount))]
    return [ev.join("2026-01-02T00:00:00Z", "P12"), ev.join("2026-01-02T00:01:00Z", "K", "P12"),
            *buy("2026-01-10T01:00:00Z", "o1", "a", "P12", "1000.00"),
            *buy("2026-01-12T01:00:00Z", "o5", "y", "K", "1000.00"),
            *buy("2026-01-31T17:00:00Z", "o3", "b", "P12", "500.00"),
            *buy("2026-02-05T01:00:00Z", "o2", "d", "P12", "3000.00"),
            *buy("2026-04-02T01:00:00Z", "o4", "e", "P12", "100.00")]


def test_a_three_month_guarantee_tops_up_each_ended_local_month_once(books, ev):
    # Terms start 2026-01-01T00:00Z = 08:00 Jan 1st in Asia/Shanghai: months Jan, Feb, Mar.
    # Level-1 commission of P12 (food 10%):
    #   Jan: o1 1000.00 -> 100.00 (o5 pays P12 50.00 at level 2: not counted)      top-up 100.00
    #   Feb: o3 at 01-31T17:00Z = 02-01 01:00 local -> 50.00, o2 3000.00 -> 300.00:
    #        350.00 >= 200.00                                                       top-up   0.00
    #   Mar: nothing                                                                top-up 200.00
    #   Apr: o4 -> 10.00, past the third month: no guarantee.
    # Platform: 5% of 5600.00 = 280.00, less 300.00 of top-ups = -20.00.
    # P12 pending 100 + 50 + 50 + 300 + 10 = 510.00 (no order confirmed); available 300.00.
    plans = stored(books, book(GUARANTEE))
    settle(books, plans, guaranteed_mall(ev), as_of="2026-04-15T00:00:00Z")
    assert entries(books, "guarantee_topup") == [
        ("guarantee:P12:2026-01", "2026-01-31T16:00:00+00:00", "platform_revenue", 10000),
        ("guarantee:P12:2026-01", "2026-01-31T16:00:00+00:00", "promoter_available", -10000),
        ("guarantee:P12:2026-03", "2026-03-31T16:00:00+00:00", "platform_revenue", 20000),
        ("guarantee:P12:2026-03", "2026-03-31T16:00:00+00:00", "promoter_available", -20000)]
    assert promoter(books, "P12") == {"pending": "510.00", "available": "300.00", "paid": "0.00"}
    assert revenue(books) == "-20.00"
    with books.connect() as conn:
        currency, months = guarantee_months(conn, "P12")
    assert [(m.month, m.commission_minor, m.topup_minor) for m in months] == [
        ("2026-01", 10000, 10000), ("2026-02", 35000, 0), ("2026-03", 0, 20000)]
    words = describe_guarantee("P12", months, currency)
    assert words[1] == ("  2026-01: level-1 commission when posted 100.00, floor 200.00: top-up "
                        "100.00 (entry guarantee:P12:2026-01: Dr platform_revenue / Cr "
                        "promoter_available)")
    assert words[2].endswith("350.00, floor 200.00: no top-up")
    assert_books_verified(books)


def test_a_month_is_posted_only_once_it_has_ended_and_from_its_commission_then(books, ev):
    # As of 03-31T15:59:59Z March (local) has not ended: only Jan (100.00) and Feb (0) post.
    # A refund of 600.00 of o1 (Jan) before March is posted changes nothing of January.
    plans = book(GUARANTEE)
    settle(books, plans, guaranteed_mall(ev)[:10], as_of="2026-03-31T15:59:59Z")
    assert [e[0] for e in entries(books, "guarantee_topup")] == ["guarantee:P12:2026-01"] * 2
    settle(books, plans, [ev.refunded("2026-03-31T15:59:59Z", "o1", ("a", "600.00"))],
           as_of="2026-03-31T16:00:00Z")
    assert [e[3] for e in entries(books, "guarantee_topup")] == [10000, -10000, 20000, -20000]


def test_refunds_after_the_top_up_change_nothing_of_it_and_runs_repeat_nothing(books, ev):
    # After the April run: a full refund of o1 takes Jan's commission to 0 and a refund of o2 takes
    # Feb's to 50.00; the top-ups stay 100.00 / 0 / 200.00 (P12 available 300.00), whatever runs.
    plans = stored(books, book(GUARANTEE))
    settle(books, plans, guaranteed_mall(ev), as_of="2026-04-15T00:00:00Z")
    before = entries(books, "guarantee_topup")
    settle(books, plans, [ev.refunded("2026-04-20T00:00:00Z", "o1", ("a", "1000.00")),
                          ev.refunded("2026-04-20T00:00:00Z", "o2", ("a", "3000.00"))])
    for as_of in ("2026-05-01T00:00:00Z", "2026-09-01T00:00:00Z"):
        release_due(books, plans, at(as_of), batch_size=1)
    assert entries(books, "guarantee_topup") == before
    assert promoter(books, "P12")["available"] == "300.00"
    # pending 510.00 - 100.00 (o1) - 300.00 (o2) = 110.00; platform -20.00 - 50.00 - 150.00
    assert promoter(books, "P12")["pending"] == "110.00"
    assert revenue(books) == "-220.00"
    with books.connect() as conn:
        _, months = guarantee_months(conn, "P12")
    assert [m.topup_minor for m in months] == [10000, 0, 20000]
    assert_books_verified(books)


def test_replaying_the_events_in_other_batches_gives_the_same_guarantees(books, ev):
    plans = book(GUARANTEE)
    events = guaranteed_mall(ev)
    settle(books, plans, events, as_of="2026-04-15T00:00:00Z", batch_size=3)
    first = entries(books, "guarantee_topup")
    settle(books, plans, events, as_of="2026-04-15T00:00:00Z", batch_size=1)
    assert entries(books, "guarantee_topup") == first and len(first) == 4


def test_a_suspended_promoter_is_recorded_without_a_top_up(books, ev):
    plans = stored(books, book(GUARANTEE))
    events = guaranteed_mall(ev)[:4] + [
        ev("promoter_suspended", "2026-01-20T00:00:00Z", promoter_id="P12")]
    settle(books, plans, events, as_of="2026-02-15T00:00:00Z")
    assert entries(books, "guarantee_topup") == []
    with books.connect() as conn:
        _, months = guarantee_months(conn, "P12")
    assert [(m.month, m.commission_minor, m.topup_minor) for m in months] == [
        ("2026-01", 10000, 0)]


def test_the_first_version_naming_a_guarantee_fixes_it():
    # Version 2 names another guarantee for P12 and one for P13: P12 keeps version 1's.
    v2 = DEFAULT_PLAN.replace("2026-01-01T00:00:00Z", "2026-02-10T00:00:00Z") + (
        'promoter_terms: {P12: {guarantee: {per_month: "900.00", months: 9}}, '
        'P13: {guarantee: {per_month: "50.00", months: 1}}}\n')
    plans = PlanBook(parse_plan_text(DEFAULT_PLAN + GUARANTEE + "---\n" + v2))
    p12, p13 = plans.guarantees["P12"], plans.guarantees["P13"]
    assert (p12.per_month_minor, p12.months, p12.version_id) == (20000, 3, "2026-01-01T00:00:00Z")
    assert p12.month_labels() == ["2026-01", "2026-02", "2026-03"]
    assert (p13.per_month_minor, p13.month_labels()) == (5000, ["2026-02"])
    assert p13.month_bounds("2026-02")[1].isoformat() == "2026-03-01T00:00:00+00:00"  # UTC


# Property: random terms, orders, confirmations and refunds ---------------------------------

@st.composite
def terms_and_events(draw):
    terms = {}
    for pid in ("P0", "P1", "P2"):
        entry = {}
        if draw(st.booleans()):
            entry["hold_days"] = draw(st.integers(0, 10))
        if pid == "P0" or draw(st.booleans()):
            cents = draw(st.integers(1, 30_000))
            entry["guarantee"] = {"per_month": f"{cents // 100}.{cents % 100:02d}",
                                  "months": draw(st.integers(1, 3))}
        if entry:
            terms[pid] = entry
    ev = EventFactory(prefix=f"h{draw(st.integers(0, 10**6))}-")
    events = [ev.join("2025-12-01T00:00:00Z", "P0"), ev.join("2025-12-01T00:00:01Z", "P1", "P0"),
              ev.join("2025-12-01T00:00:02Z", "P2", "P1")]
    for n in range(draw(st.integers(1, 12))):
        day = draw(st.integers(0, 110))
        ts = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(days=day, hours=draw(st.integers(0, 23)))
        customer = f"c{n}"
        for pid in draw(st.lists(st.sampled_from(["P0", "P1", "P2"]), min_size=1, max_size=2)):
            events.append(ev.touch(iso(ts - timedelta(minutes=5)), customer, pid))
        cents = draw(st.integers(1, 500_000))
        events.append(ev.paid(iso(ts), f"o{n}", customer,
                              ("a", "food", f"{cents // 100}.{cents % 100:02d}")))
        if draw(st.booleans()):
            events.append(ev.confirmed(iso(ts + timedelta(days=draw(st.integers(0, 3)))), f"o{n}"))
        if draw(st.booleans()):
            back = draw(st.integers(1, cents))
            events.append(ev.refunded(iso(ts + timedelta(days=draw(st.integers(0, 40)))),
                                      f"o{n}", ("a", f"{back // 100}.{back % 100:02d}")))
    return terms, events, draw(st.integers(0, 150))


def iso(instant: datetime) -> str:
    return instant.strftime("%Y-%m-%dT%H:%M:%SZ")


def money(text: str) -> int:
    return int(text.replace(".", ""))


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(terms_and_events())
def test_random_terms_conserve_money_hold_as_stated_and_post_each_month_once(tmp_path_factory,
                                                                            drawn):
    terms, events, run_day = drawn
    plans = book("promoter_terms: " + json.dumps(terms) + "\n")
    books = create_db_engine(f"sqlite:///{tmp_path_factory.mktemp('terms') / 'b.db'}")
    upgrade(books)
    with books.begin() as conn:
        store_versions(conn, plans.versions)
    # A release run part way (some months posted before later refunds), then one after all.
    settle(books, plans, events, as_of=iso(datetime(2026, 1, 1, tzinfo=UTC)
                                           + timedelta(days=run_day)))
    release_due(books, plans, at("2026-09-01T00:00:00Z"))
    first = entries(books, "guarantee_topup")
    release_due(books, plans, at("2026-09-02T00:00:00Z"), batch_size=1)
    assert entries(books, "guarantee_topup") == first
    assert_books_verified(books)
    doc = balances(books)
    paid = sum(line.amount_minor for e in events if isinstance(e.body, OrderPaid)
               for line in e.body.lines)
    o = t.orders.c
    with books.connect() as conn:
        refunded = conn.execute(select(func.sum(o.refunded_minor))).scalar_one()
        orders = conn.execute(select(o.beneficiaries, o.confirmed_at, o.release_due_at)).all()
        _, months = guarantee_months(conn, "P0")
    held = sum(money(p["pending"]) + money(p["available"]) + money(p["paid"])
               for p in doc["promoters"].values())
    parties = held + money(doc["platform"]["revenue"]) + sum(
        money(m["payable"]) for m in doc["merchants"].values())
    assert parties == paid - refunded  # a top-up moves money from the platform, never creates it
    version = plans.versions[0]
    for beneficiaries, confirmed_at, due in orders:
        if confirmed_at is None:
            continue
        level1 = [pid for pid, level, _ in json.loads(beneficiaries) if level == 1]
        hold = max((version.hold_days_of(pid) for pid in level1), default=version.hold_days)
        assert due - confirmed_at == timedelta(days=hold)
    guarantee = plans.guarantees["P0"]
    assert [m.month for m in months] == guarantee.month_labels()
    for month in months:
        assert month.topup_minor == max(0, guarantee.per_month_minor - month.commission_minor)
    assert sum(-amount for entry_id, _, kind, amount in first if kind == "promoter_available"
               and entry_id.startswith("guarantee:P0:")) == sum(m.topup_minor for m in months)
    books.dispose()


def test_fenrun_explain_guarantee_prints_each_posted_month(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'books.db'}"
    books = create_db_engine(url)
    upgrade(books)
    plans = stored(books, book(GUARANTEE))
    settle(books, plans, guaranteed_mall(EventFactory()), as_of="2026-04-15T00:00:00Z")
    books.dispose()
    monkeypatch.setenv("FENRUN_DATABASE_URL", url)
    result = CliRunner().invoke(app, ["explain", "P12", "--guarantee"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        "promoter P12: guarantee of 200.00 CNY a month, from plan version 2026-01-01T00:00:00Z",
        "  2026-01: level-1 commission when posted 100.00, floor 200.00: top-up 100.00 (entry "
        "guarantee:P12:2026-01: Dr platform_revenue / Cr promoter_available)",
        "  2026-02: level-1 commission when posted 350.00, floor 200.00: no top-up",
        "  2026-03: level-1 commission when posted 0.00, floor 200.00: top-up 200.00 (entry "
        "guarantee:P12:2026-03: Dr platform_revenue / Cr promoter_available)"]
    none = CliRunner().invoke(app, ["explain", "K", "--guarantee"], catch_exceptions=False)
    assert none.output.strip() == "promoter K: no guaranteed month has been posted"
