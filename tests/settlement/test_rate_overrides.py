"""Approving rate suggestions: several approvals at one instant make one plan version carrying
every override (and the overrides already in force); a suggestion computed from a rate that is
no longer in force is refused; a version that starts later, or one at the same instant, refuses
the approval rather than silently dropping the new rate; a refusal writes nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from settlement import rate_overrides, read_model
from settlement import rate_suggestions as rs
from settlement.errors import RateSuggestionError
from settlement.plan import build_version, parse_plan_text
from settlement.plan_store import store_versions, stored_versions
from tests.conftest import DEFAULT_PLAN

AT = datetime(2026, 3, 1, tzinfo=UTC)
NOTICE = timedelta(days=7)


def _suggestion(promoter: str, current: str, proposed: str) -> rs.NewSuggestion:
    return rs.NewSuggestion(
        promoter_id=promoter, current_rate=Decimal(current), policy_rate=Decimal(proposed),
        proposed_rate=Decimal(proposed), cadence="standard", guardrails=(),
        input_fingerprint="0" * 64, predicted={}, propensity=0.5,
        reason=rs.AssignmentReason.EXPLORATION, explanation="test", drivers=(),
        initial_status=rs.SuggestionStatus.PENDING)


def _store(conn, *suggestions: rs.NewSuggestion, at: datetime = AT) -> list[str]:
    run = rs.SuggestionRun(as_of=at, created_at=at, mode=rs.SuggestionMode.LIVE,
                           kill_switch=False, cold_start=False, model_versions={},
                           summary="test", created_by="test")
    return rs.store_run(conn, run, list(suggestions))


@pytest.fixture
def planned(books):
    with books.begin() as conn:
        store_versions(conn, parse_plan_text(DEFAULT_PLAN))
    return books


def test_approvals_at_one_instant_make_one_version_with_every_override(planned):
    effective = AT + NOTICE
    with planned.begin() as conn:
        ids = _store(conn, _suggestion("P1", "0.10", "0.12"), _suggestion("P2", "0.10", "0.08"))
        version, rows = rate_overrides.approve(conn, ids, effective_from=effective,
                                               decided_by="ana", decided_at=AT, notice=NOTICE)
    with planned.connect() as conn:
        rates = read_model.level1_rates(conn, effective)
        logged = read_model.rate_assignments(conn)
        assert len(stored_versions(conn)) == 2
    assert rates.version_id == version
    assert rates.overrides == {"P1": Decimal("0.12"), "P2": Decimal("0.08")}
    assert rates.of("P3") == Decimal("0.10")
    assert [(a.promoter_id, a.rate, a.reason, a.propensity) for a in logged] == [
        ("P1", "0.12", "exploration", 0.5), ("P2", "0.08", "exploration", 0.5)]
    assert {r.status for r in rows} == {"approved"}


def test_a_later_approval_keeps_the_overrides_in_force(planned):
    with planned.begin() as conn:
        [first] = _store(conn, _suggestion("P1", "0.10", "0.12"))
        rate_overrides.approve(conn, [first], effective_from=AT + NOTICE, decided_by="ana",
                               decided_at=AT, notice=NOTICE)
        [second] = _store(conn, _suggestion("P2", "0.10", "0.12"), at=AT + timedelta(days=1))
        rate_overrides.approve(conn, [second], effective_from=AT + 2 * NOTICE,
                               decided_by="ana", decided_at=AT + NOTICE, notice=NOTICE)
    with planned.connect() as conn:
        assert read_model.level1_rates(conn, AT + 2 * NOTICE).overrides == {
            "P1": Decimal("0.12"), "P2": Decimal("0.12")}


def test_refusals_leave_the_books_unchanged(planned):
    with planned.begin() as conn:
        [p1, p2] = _store(conn, _suggestion("P1", "0.10", "0.12"),
                          _suggestion("P2", "0.10", "0.12"))
    newer = build_version({**parse_plan_text(DEFAULT_PLAN)[0].document,
                           "effective_from": (AT + 3 * NOTICE).isoformat(),
                           "promoter_overrides": {"P1": "0.11"}})
    with planned.begin() as conn:
        store_versions(conn, [newer])
    for ids, effective, match in (([p2], AT + NOTICE, "starts after"),
                                  ([p2], AT + 3 * NOTICE, "already starts"),
                                  ([p2, p1], AT + 4 * NOTICE, "0.11 is in force")):
        with planned.begin() as conn, pytest.raises(RateSuggestionError, match=match):
            rate_overrides.approve(conn, ids, effective_from=effective, decided_by="ana",
                                   decided_at=AT, notice=NOTICE)
    with planned.connect() as conn:
        assert len(stored_versions(conn)) == 2
        assert {read_model.get_suggestion(conn, i).status for i in (p1, p2)} == {"pending"}
        assert read_model.rate_assignments(conn) == []


def test_two_people_approving_at_once_decide_it_once(postgres_url):
    """PostgreSQL: the plan lock serialises the versions, the decision's key settles the race;
    the loser writes nothing."""
    import threading

    from settlement.db import create_db_engine, upgrade

    engine = create_db_engine(postgres_url)
    upgrade(engine)
    with engine.begin() as conn:
        store_versions(conn, parse_plan_text(DEFAULT_PLAN))
        [sid] = _store(conn, _suggestion("P1", "0.10", "0.12"))
    start, outcomes = threading.Barrier(2), []

    def decide(name: str, days: int) -> None:
        start.wait()
        try:
            with engine.begin() as conn:
                rate_overrides.approve(conn, [sid], effective_from=AT + timedelta(days=days),
                                       decided_by=name, decided_at=AT, notice=NOTICE)
            outcomes.append(name)
        except RateSuggestionError:
            outcomes.append("refused")

    threads = [threading.Thread(target=decide, args=(n, d)) for n, d in (("ana", 8), ("bo", 9))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(outcomes)[1] == "refused" and sorted(outcomes)[0] in ("ana", "bo")
    with engine.connect() as conn:
        assert len(stored_versions(conn)) == 2
        assert len(read_model.rate_assignments(conn)) == 1
        assert read_model.get_suggestion(conn, sid).decided_by == sorted(outcomes)[0]
    engine.dispose()
