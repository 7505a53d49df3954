"""The rate suggestion store keeps suggestions immutable, decides each at most once, supersedes
undecided ones, logs served rates with propensities and draws experiment arms replayably."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from settlement import rate_suggestions as rs
from settlement import read_model
from settlement.errors import NotFound, RateSuggestionError

AT = datetime(2026, 3, 1, tzinfo=UTC)


def _suggestion(promoter: str, current: str = "0.10", proposed: str = "0.12",
                status: rs.SuggestionStatus = rs.SuggestionStatus.PENDING,
                arm: rs.ExperimentArm | None = None) -> rs.NewSuggestion:
    return rs.NewSuggestion(
        promoter_id=promoter, current_rate=Decimal(current), policy_rate=Decimal("0.14"),
        proposed_rate=Decimal(proposed), cadence="standard",
        guardrails=(rs.GuardrailStep("max_step", "clip", "0.12", "step > 0.02"),),
        input_fingerprint="f" * 64,
        predicted={"margin": rs.PredictedChange("12.30", "4.10", "20.50")},
        propensity=0.98, reason=rs.AssignmentReason.POLICY,
        explanation="customers worth more than they cost",
        drivers=(rs.Driver("log_level", "6.2", "sells steadily"),),
        initial_status=status, arm=arm)


def _run(at: datetime = AT, mode: rs.SuggestionMode = rs.SuggestionMode.LIVE) -> rs.SuggestionRun:
    return rs.SuggestionRun(as_of=at, created_at=at, mode=mode, kill_switch=False,
                            cold_start=False, model_versions={"fenrun-rate-policy": "1"},
                            summary="test", created_by="test")


def test_a_stored_suggestion_reads_back_whole(books):
    with books.begin() as conn:
        [sid] = rs.store_run(conn, _run(), [_suggestion("P1")])
    with books.connect() as conn:
        row = read_model.get_suggestion(conn, sid)
    assert (row.current_rate, row.proposed_rate, row.policy_rate) == ("0.1", "0.12", "0.14")
    assert row.status == "pending" and row.mode == "live"
    assert row.guardrails == (rs.GuardrailStep("max_step", "clip", "0.12", "step > 0.02"),)
    assert row.predicted["margin"] == rs.PredictedChange("12.30", "4.10", "20.50")
    assert row.model_versions == {"fenrun-rate-policy": "1"}
    assert row.change == Decimal("0.02")


def test_a_suggestion_is_decided_once(books):
    with books.begin() as conn:
        [sid] = rs.store_run(conn, _run(), [_suggestion("P1")])
        rs.decide(conn, sid, rs.Decision(rs.SuggestionStatus.REJECTED, "ana", AT, "too soon"))
    with books.begin() as conn, pytest.raises(RateSuggestionError, match="rejected"):
        rs.decide(conn, sid, rs.Decision(rs.SuggestionStatus.APPROVED, "bo", AT,
                                         effective_from=AT, plan_version_id="v"))
    with books.connect() as conn:
        row = read_model.get_suggestion(conn, sid)
    assert (row.status, row.decided_by, row.note) == ("rejected", "ana", "too soon")


def test_shadow_and_blocked_suggestions_cannot_be_applied(books):
    with books.begin() as conn:
        [shadow] = rs.store_run(conn, _run(mode=rs.SuggestionMode.SHADOW), [_suggestion("P1")])
        [blocked] = rs.store_run(conn, _run(AT + timedelta(hours=1)),
                                 [_suggestion("P2", status=rs.SuggestionStatus.BLOCKED)])
    approve = rs.Decision(rs.SuggestionStatus.APPROVED, "ana", AT, effective_from=AT,
                          plan_version_id="v")
    with books.begin() as conn, pytest.raises(RateSuggestionError, match="shadow"):
        rs.decide(conn, shadow, approve)
    with books.begin() as conn, pytest.raises(RateSuggestionError, match="blocked"):
        rs.decide(conn, blocked, approve)


def test_a_newer_run_supersedes_undecided_pending_suggestions_only(books):
    with books.begin() as conn:
        first = rs.store_run(conn, _run(), [_suggestion("P1"), _suggestion("P2")])
        rs.decide(conn, first[1], rs.Decision(rs.SuggestionStatus.REJECTED, "ana", AT, "no"))
        second = rs.store_run(conn, _run(AT + timedelta(days=7)),
                              [_suggestion("P1"), _suggestion("P2")])
    with books.connect() as conn:
        statuses = {r.suggestion_id: r.status for r in read_model.list_suggestions(conn)}
        latest = read_model.latest_suggestions(conn)
        superseded = read_model.list_suggestions(conn, status="superseded")
    assert statuses[first[0]] == "superseded" and statuses[first[1]] == "rejected"
    assert {latest["P1"].suggestion_id, latest["P2"].suggestion_id} == set(second)
    assert [r.suggestion_id for r in superseded] == [first[0]]
    assert second[0] in superseded[0].note


def test_list_refuses_an_unknown_status_and_get_an_unknown_id(books):
    with books.connect() as conn:
        with pytest.raises(ValueError):
            read_model.list_suggestions(conn, status="pendng")
        with pytest.raises(NotFound):
            read_model.get_suggestion(conn, "rs_missing")


def test_marker_moves_when_a_suggestion_is_stored_or_decided(books):
    with books.connect() as conn:
        empty = read_model.suggestions_marker(conn)
    with books.begin() as conn:
        [sid] = rs.store_run(conn, _run(), [_suggestion("P1")])
    with books.connect() as conn:
        stored = read_model.suggestions_marker(conn)
    with books.begin() as conn:
        rs.decide(conn, sid, rs.Decision(rs.SuggestionStatus.REJECTED, "ana", AT, "no"))
    with books.connect() as conn:
        decided = read_model.suggestions_marker(conn)
    assert len({empty, stored, decided}) == 3


def test_assignments_log_rates_with_propensity_once_per_suggestion(books):
    with books.begin() as conn:
        [sid] = rs.store_run(conn, _run(), [_suggestion("P1")])
        rs.record_assignment(conn, rs.NewAssignment(
            "P1", Decimal("0.12"), AT, 0.98, rs.AssignmentReason.POLICY, AT, "ana",
            suggestion_id=sid, plan_version_id="2026-03-01T00:00:00Z"))
    with books.begin() as conn, pytest.raises(Exception):  # noqa: B017 - unique suggestion_id
        rs.record_assignment(conn, rs.NewAssignment(
            "P1", Decimal("0.12"), AT, 0.98, rs.AssignmentReason.POLICY, AT, "ana",
            suggestion_id=sid))
    with books.connect() as conn:
        [row] = read_model.rate_assignments(conn, promoter_id="P1")
    assert (row.rate, row.propensity, row.reason, row.suggestion_id) == ("0.12", 0.98,
                                                                         "policy", sid)


def test_refuses_bad_propensity_and_rate(books):
    with books.begin() as conn, pytest.raises(RateSuggestionError, match="propensity"):
        rs.record_assignment(conn, rs.NewAssignment(
            "P1", Decimal("0.12"), AT, 0.0, rs.AssignmentReason.POLICY, AT, "ana"))
    with pytest.raises(RateSuggestionError, match="rate"):
        rs.rate_text(Decimal("1.5"))


def test_experiment_membership_is_recorded_and_replays_from_the_seed(books):
    with books.begin() as conn:
        experiment = rs.start_experiment(conn, 0.3, 1234, AT, "ana")
        arms = rs.assign_members(conn, experiment, [f"P{i}" for i in range(200)], AT)
        again = rs.assign_members(conn, experiment, ["P1", "P2", "P999"], AT)
        with pytest.raises(RateSuggestionError, match="still open"):
            rs.start_experiment(conn, 0.2, 1, AT, "bo")
    with books.connect() as conn:
        members = read_model.experiment_members(conn, experiment.experiment_id)
        assert read_model.open_experiment(conn) == experiment
    assert len(members) == 201
    assert all(rs.draw_arm(1234, m.promoter_id, 0.3)[0].value == m.arm for m in members)
    assert again["P1"] == arms["P1"] and again["P2"] == arms["P2"]
    control = sum(arm is rs.ExperimentArm.CONTROL for arm in arms.values())
    assert 30 <= control <= 90  # 0.3 of 200, well inside 4 standard deviations


@settings(max_examples=200, deadline=None)
@given(seed=st.integers(0, 2**40), promoter=st.text(min_size=1, max_size=20),
       share=st.floats(0.01, 0.99))
def test_draw_arm_is_a_pure_function_of_seed_and_id(seed, promoter, share):
    arm, draw = rs.draw_arm(seed, promoter, share)
    assert rs.draw_arm(seed, promoter, share) == (arm, draw)
    assert 0.0 <= draw < 1.0
    assert (arm is rs.ExperimentArm.CONTROL) == (draw < share)


def test_runs_are_ordered_by_their_instant(books):
    with books.begin() as conn:
        rs.store_run(conn, _run(), [_suggestion("P1")])
    with books.begin() as conn, pytest.raises(RateSuggestionError, match="not after"):
        rs.store_run(conn, _run(), [_suggestion("P1")])


def test_latest_for_some_promoters_only(books):
    with books.begin() as conn:
        rs.store_run(conn, _run(), [_suggestion("P1"), _suggestion("P2"), _suggestion("P3")])
    with books.connect() as conn:
        assert set(read_model.latest_suggestions(conn, ["P1", "P3", "P9"])) == {"P1", "P3"}
