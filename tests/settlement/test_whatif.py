"""Proves a what-if re-settles a past window under other level-1 rates in scratch books: the cost
change is exact to the fen on a hand-checked case (per segment, merchant, level and promoter, each
summing to the total), the real books are not changed by a single row, and a replay that does not
reproduce the books is refused rather than reported."""

from __future__ import annotations

from datetime import datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, select

from settlement import tables as t
from settlement.errors import PlanError, SettlementError
from settlement.plan import PlanBook, parse_plan_text
from settlement.plan_store import store_versions
from settlement.read_rows import CommissionRow
from settlement.whatif import compare_commissions, scenario_versions
from settlement.whatif_replay import WhatIfDiverged, what_if
from tests.conftest import DEFAULT_PLAN
from tests.settlement.helpers import at, settle

T1, T2 = at("2026-03-10T00:00:00Z"), at("2026-03-20T00:00:00Z")
RATES = {"B": "0.12", "C": "0.08"}
SEGMENTS = {"B": "growth", "C": "loyal"}


def _events(ev):
    return [
        ev.join("2026-03-01T08:00:00Z", "A"), ev.join("2026-03-01T08:00:00Z", "B", parent="A"),
        ev.join("2026-03-01T08:00:00Z", "C"),
        ev.touch("2026-03-01T10:00:00Z", "x", "B", kind="register"),  # x bound to B for life
        ev.touch("2026-03-01T11:00:00Z", "y", "C"),
        ev.paid("2026-03-02T10:00:00Z", "o1", "x", ("s1", "food", "100.00")),  # before T1
        ev.paid("2026-03-12T10:00:00Z", "o2", "x", ("s2", "food", "200.00")),
        ev.paid("2026-03-12T11:00:00Z", "o3", "x", ("s3", "electronics", "100.00"),
                merchant="m2"),
        ev.touch("2026-03-13T10:00:00Z", "y", "C"),
        ev.paid("2026-03-14T10:00:00Z", "o4", "y", ("s4", "food", "50.00"), merchant="m2"),
        ev.refunded("2026-03-15T10:00:00Z", "o2", ("s2", "50.00")),
        ev.refunded("2026-03-16T10:00:00Z", "o1", ("s1", "100.00")),  # paid before T1
        ev.paid("2026-03-25T10:00:00Z", "o5", "x", ("s5", "food", "100.00")),  # after T2
    ]


@pytest.fixture
def settled(books: Engine, plans: PlanBook, ev) -> Engine:
    with books.begin() as conn:
        store_versions(conn, plans.versions)
    settle(books, plans, _events(ev), as_of="2026-03-26T00:00:00Z")
    return books


def _rows(books: Engine) -> dict[str, list[tuple[object, ...]]]:
    """Every row of every table of the books, sorted: equal before and after means untouched."""
    with books.connect() as conn:
        return {table.name: sorted((tuple(row) for row in conn.execute(select(table))), key=repr)
                for table in t.metadata.sorted_tables}


def _lines(lines) -> dict[str, tuple[int, int]]:
    return {line.key: (line.baseline_minor, line.scenario_minor) for line in lines}


def test_hand_checked_cost_change_and_untouched_books(settled: Engine) -> None:
    # In the window (Mar 10-20), plan: food L1 10 %, L2 5 %; electronics its own 3 % / 1 %.
    #  o2 food 200.00 (m1), x bound to B, A its parent: B 20.00 -> at 12 % 24.00; A 10.00
    #  o3 electronics 100.00 (m2): category levels win over the override: B 3.00, A 1.00
    #  o4 food 50.00 (m2), C alone: 5.00 -> at 8 % 4.00
    #  refund 50.00 of o2: B -5.00 -> -6.00 (150 × 12 % = 18.00 left of 24.00); A -2.50
    #  refund o1 (paid Mar 2, before the window, so at 10 % on both sides): B -10.00, A -5.00
    # books:    B 20+3-5-10 = 8.00, C 5.00, A 10+1-2.5-5 = 3.50 -> 16.50
    # scenario: B 24+3-6-10 = 11.00, C 4.00, A 3.50 -> 18.50
    before = _rows(settled)
    change = what_if(settled, T1, T2, RATES, segment_of=SEGMENTS)
    assert _rows(settled) == before
    assert change.currency == "CNY"
    assert (change.total.baseline_minor, change.total.scenario_minor) == (1650, 1850)
    assert change.total.change_minor == 200
    assert _lines(change.by_promoter) == {"B": (800, 1100), "C": (500, 400), "A": (350, 350)}
    assert [line.key for line in change.by_promoter] == ["B", "C", "A"]  # largest change first
    assert _lines(change.by_segment) == {"growth": (800, 1100), "loyal": (500, 400),
                                         "(no segment)": (350, 350)}
    # m1: o1 refund -15.00 (both), o2 20+10-5-2.5 = 22.50 -> 24+10-6-2.5 = 25.50
    assert _lines(change.by_merchant) == {"m1": (750, 1050), "m2": (900, 800)}
    assert _lines(change.by_level) == {"level 1": (1300, 1500), "level 2": (350, 350)}


def test_the_books_own_rates_change_nothing(settled: Engine) -> None:
    change = what_if(settled, T1, T2, {"B": "0.10", "C": "0.10"})
    assert change.total.change_minor == 0
    assert all(line.change_minor == 0 for line in change.by_promoter)
    assert change.total.baseline_minor == 1650


def test_a_window_before_any_plan_or_backwards_is_refused(settled: Engine) -> None:
    with pytest.raises(PlanError, match="no plan version is in force"):
        what_if(settled, at("2025-01-01T00:00:00Z"), T2, RATES)
    with pytest.raises(PlanError, match="--from"):
        what_if(settled, T2, T1, RATES)
    with pytest.raises(PlanError, match=r"promoter_overrides\.B: 0\.99 plus the platform take"):
        what_if(settled, T1, T2, {"B": "0.99"})


def test_the_scratch_may_never_be_the_books(settled: Engine) -> None:
    url = settled.url.render_as_string(hide_password=False)
    with pytest.raises(SettlementError, match="never writes into the books"):
        what_if(settled, T1, T2, RATES, scratch_url=url)


@pytest.mark.parametrize(("amount", "message"), [
    ("110.00", "before --from differs"),  # o1 books more commission on replay
    ("90.00", "rejected on replay"),  # o1's later refund of 100.00 no longer fits
])
def test_a_replay_that_does_not_reproduce_the_books_is_refused(settled: Engine, amount: str,
                                                               message: str) -> None:
    # Books whose stored event no longer says what their journal booked (a hand edit).
    with settled.begin() as conn:
        row = conn.execute(select(t.events.c.event_id, t.events.c.payload)
                           .where(t.events.c.payload.like('%"o1"%'),
                                  t.events.c.type == "order_paid")).one()
        conn.execute(t.events.update().where(t.events.c.event_id == row.event_id)
                     .values(payload=row.payload.replace('"100.00"', f'"{amount}"')))
    with pytest.raises(WhatIfDiverged, match=message):
        what_if(settled, T1, T2, RATES)


def test_scenario_versions_cover_the_window_only() -> None:
    later = DEFAULT_PLAN.replace("2026-01-01", "2026-03-15") + 'promoter_overrides: {A: "0.2"}\n'
    versions = parse_plan_text(DEFAULT_PLAN + "---\n" + later)
    out = scenario_versions(versions, T1, T2, {"B": "0.12"})
    assert [v.version_id for v in out] == ["2026-01-01T00:00:00Z", "2026-03-10T00:00:00Z",
                                           "2026-03-15T00:00:00Z"]
    assert out[0] == versions[0]
    assert out[1].document["promoter_overrides"] == {"B": "0.12"}
    assert out[2].document["promoter_overrides"] == {"A": "0.2", "B": "0.12"}


ROW_AT = datetime.fromisoformat("2026-03-12T00:00:00+00:00")


@given(st.lists(st.tuples(st.sampled_from("PQR"), st.sampled_from("ab"),
                          st.sampled_from([1, 2, None]), st.integers(-10**6, 10**6)),
                max_size=30),
       st.lists(st.integers(-10**6, 10**6), max_size=30))
@settings(max_examples=60, deadline=None)
def test_every_breakdown_adds_up_to_the_total(rows, shifts) -> None:
    baseline = [CommissionRow(p, o, level, ROW_AT, amount) for p, o, level, amount in rows]
    scenario = [row._replace(amount_minor=row.amount_minor + shift)
                for row, shift in zip(baseline, shifts, strict=False)]
    change = compare_commissions(baseline, scenario, start=T1, end=T2, currency="CNY",
                                 rates={}, merchant_of={"a": "m1", "b": "m2"},
                                 segment_of={"P": "s"})
    for lines in (change.by_segment, change.by_merchant, change.by_level, change.by_promoter):
        assert sum(line.change_minor for line in lines) == change.total.change_minor
    assert change.total.baseline_minor == sum(row.amount_minor for row in baseline)


@pytest.mark.slow
def test_a_simulated_mall_replays_faithfully(tmp_path) -> None:
    # Suspensions, refunds, fraud rings, same-instant events: the replay reproduces the books
    # (else WhatIfDiverged), the books' own rates change nothing, a raise costs more.
    from datetime import timedelta

    from features.simulator import SimulationConfig, simulate
    from settlement import read_model
    from settlement.db import create_db_engine, upgrade
    from settlement.ingest import settle_file

    simulate(tmp_path / "sim", SimulationConfig(promoters=300, days=40, seed=11))
    engine = create_db_engine(f"sqlite:///{tmp_path / 'books.db'}")
    upgrade(engine)
    with engine.begin() as conn:
        store_versions(conn, parse_plan_text((tmp_path / "sim" / "plan.yaml").read_text()))
    settle_file(engine, tmp_path / "sim" / "events.jsonl", 2000)
    with engine.connect() as conn:
        last = read_model.last_event_at(conn)
        earners = sorted({r.promoter_id for r in read_model.commissions(conn)})[:50]
    assert last is not None and earners
    start = last - timedelta(days=20)
    same = what_if(engine, start, last, dict.fromkeys(earners, "0.10"))
    raised = what_if(engine, start, last, dict.fromkeys(earners, "0.12"))
    engine.dispose()
    assert same.total.change_minor == 0 and same.total.baseline_minor > 0
    assert raised.total.change_minor > 0
    assert raised.total.baseline_minor == same.total.baseline_minor
