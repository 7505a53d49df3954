"""`suggest_rates` stores one suggestion per active promoter with its evidence; shadow mode and
the kill switch never touch a plan; blocked, rejected and control suggestions never reach one;
approval respects the notice period and writes the override, the decision and the served-rate
log together; auto-approval applies only changes the guardrails left to it; with no champion
only randomised exploration is proposed, and it says so."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import Engine

from serving.champions import ChampionRegistry
from serving.config import ServingSettings
from serving.guardrails import RULE_NAMES
from serving.rate_config import RateSettings
from serving.rate_suggest import suggest_rates
from settlement import rate_overrides, read_model
from settlement import rate_suggestions as rs
from settlement.errors import RateSuggestionError
from settlement.plan_store import stored_versions
from tests.serving.rates_fixtures import mall_files, new_books, policy_store

pytestmark = pytest.mark.slow
NOTICE = timedelta(days=7)


@pytest.fixture
def books(tmp_path) -> Iterator[Engine]:
    engine = new_books(f"sqlite:///{tmp_path / 'books.db'}")
    yield engine
    engine.dispose()


@pytest.fixture(scope="module")
def serving() -> ServingSettings:
    return ServingSettings(mlflow_tracking_uri=policy_store(), champion_refresh_s=3600)


@pytest.fixture(scope="module")
def registry(serving: ServingSettings) -> Iterator[ChampionRegistry]:
    registry = ChampionRegistry(serving)
    yield registry
    registry.close()


def _as_of() -> datetime:
    return mall_files().events[-1].ts


def _suggest(books: Engine, registry: ChampionRegistry, serving: ServingSettings,
             later_s: int = 0, **config):
    settings = RateSettings(**{"mode": "live", **config})
    at = _as_of()
    return suggest_rates(books, registry, settings, serving, as_of=at,
                         now=at + timedelta(hours=1, seconds=later_s), by="test", seed=1)


def _versions(books: Engine) -> int:
    with books.connect() as conn:
        return len(stored_versions(conn))


def _rows(books: Engine, **filters) -> list[rs.SuggestionRow]:
    with books.connect() as conn:
        return read_model.list_suggestions(conn, limit=10_000, **filters)


def test_every_active_promoter_gets_one_suggestion_with_its_evidence(books, registry, serving):
    outcome = _suggest(books, registry, serving)
    rows = _rows(books, run_id=outcome.run_id)
    assert not outcome.cold_start and len(rows) == sum(outcome.by_status.values()) > 20
    assert len({r.promoter_id for r in rows}) == len(rows)
    changed = [r for r in rows if r.status == "pending"]
    assert changed, outcome.summary
    for r in rows:
        assert [g.name for g in r.guardrails] == list(RULE_NAMES)
        assert set(r.model_versions) == {"fenrun-rate-policy", "fenrun-rate-response"}
        assert 0 < r.propensity <= 1 and len(r.input_fingerprint) == 64
        p = r.predicted["margin"]
        assert Decimal(p.low) <= Decimal(p.delta) <= Decimal(p.high)
    for r in changed:
        assert r.proposed_rate != r.current_rate
        assert r.explanation.startswith(("Raise", "Lower")) and "Predicted per 30-day" in \
            r.explanation
        assert r.drivers and all(d.detail for d in r.drivers)
    for r in _rows(books, status="blocked"):
        assert any(g.outcome == "block" for g in r.guardrails)
        assert r.proposed_rate == r.current_rate


def test_the_kill_switch_stops_everything_and_is_recorded(books, registry, serving):
    outcome = _suggest(books, registry, serving, kill_switch=True, auto_approve=True)
    assert outcome.kill_switch and outcome.suggestion_ids == []
    with books.connect() as conn:
        [run] = read_model.suggestion_runs(conn)
    assert run.kill_switch and "kill switch" in run.summary
    assert _versions(books) == 1


def test_shadow_mode_never_creates_a_plan_version(books, registry, serving):
    outcome = _suggest(books, registry, serving, mode="shadow", auto_approve=True,
                       approval_above=1.0)
    assert outcome.auto_approved_version is None
    pending = _rows(books, status="pending")
    assert pending and all(r.mode == "shadow" for r in pending)
    at = _as_of() + timedelta(days=30)
    with books.begin() as conn, pytest.raises(RateSuggestionError, match="shadow"):
        rate_overrides.approve(conn, [pending[0].suggestion_id], effective_from=at,
                               decided_by="ana", decided_at=_as_of(), notice=NOTICE)
    assert _versions(books) == 1
    with books.connect() as conn:
        assert read_model.rate_assignments(conn) == []


def test_approval_writes_the_override_decision_and_assignment_after_the_notice(
        books, registry, serving):
    _suggest(books, registry, serving)
    chosen = _rows(books, status="pending")[0]
    decided_at = _as_of() + timedelta(hours=2)
    too_soon = decided_at + NOTICE - timedelta(seconds=1)
    with books.begin() as conn, pytest.raises(RateSuggestionError, match="notice period"):
        rate_overrides.approve(conn, [chosen.suggestion_id], effective_from=too_soon,
                               decided_by="ana", decided_at=decided_at, notice=NOTICE)
    at = decided_at + NOTICE
    with books.begin() as conn:
        version, [row] = rate_overrides.approve(
            conn, [chosen.suggestion_id], effective_from=at, decided_by="ana",
            decided_at=decided_at, notice=NOTICE, note="good traffic")
    assert (row.status, row.decided_by, row.note, row.effective_from, row.plan_version_id) == (
        "approved", "ana", "good traffic", at, version)
    with books.connect() as conn:
        before = rate_overrides.level1_rates(conn, at - timedelta(seconds=1))
        after = rate_overrides.level1_rates(conn, at)
        [logged] = read_model.rate_assignments(conn, promoter_id=chosen.promoter_id)
    assert before.of(chosen.promoter_id) == Decimal(chosen.current_rate)
    assert after.of(chosen.promoter_id) == Decimal(chosen.proposed_rate)
    assert after.version_id == version
    assert (logged.rate, logged.propensity, logged.reason, logged.suggestion_id) == (
        chosen.proposed_rate, chosen.propensity, chosen.reason, chosen.suggestion_id)
    with books.begin() as conn, pytest.raises(RateSuggestionError, match="approved"):
        rate_overrides.approve(conn, [chosen.suggestion_id], effective_from=at + NOTICE,
                               decided_by="bo", decided_at=decided_at, notice=NOTICE)


def test_rejected_and_blocked_suggestions_never_reach_a_plan(books, registry, serving):
    _suggest(books, registry, serving)
    pending, blocked = _rows(books, status="pending"), _rows(books, status="blocked")
    assert blocked, "the small mall has promoters with too few orders to change"
    with books.begin() as conn:
        rate_overrides.reject(conn, [pending[0].suggestion_id], decided_by="ana",
                              decided_at=_as_of(), note="not before the sale")
    at = _as_of() + timedelta(days=30)
    for row in (pending[0], blocked[0]):
        with books.begin() as conn, pytest.raises(RateSuggestionError):
            rate_overrides.approve(conn, [row.suggestion_id], effective_from=at,
                                   decided_by="bo", decided_at=_as_of(), notice=NOTICE)
    with books.begin() as conn, pytest.raises(RateSuggestionError, match="reason"):
        rate_overrides.reject(conn, [pending[1].suggestion_id], decided_by="ana",
                              decided_at=_as_of(), note=" ")
    assert _versions(books) == 1
    assert _rows(books, status="rejected")[0].note == "not before the sale"


def test_auto_approval_applies_only_small_changes_after_the_notice(books, registry, serving):
    outcome = _suggest(books, registry, serving, auto_approve=True, approval_above=0.02,
                       notice_days=3)
    auto = _rows(books, status="auto_approved")
    assert auto and outcome.auto_approved_version is not None
    assert all(abs(r.change) <= Decimal("0.02") for r in auto)
    assert all(r.effective_from == _as_of() + timedelta(hours=1, days=3) for r in auto)
    with books.connect() as conn:
        rates = rate_overrides.level1_rates(conn, _as_of() + timedelta(days=4))
        logged = read_model.rate_assignments(conn)
    assert {r.promoter_id: Decimal(r.proposed_rate) for r in auto} == rates.overrides
    assert {a.suggestion_id for a in logged} >= {r.suggestion_id for r in auto}


def test_a_control_group_keeps_its_rates_and_is_replayable(books, registry, serving):
    outcome = _suggest(books, registry, serving, control_share=0.3, experiment_seed=99,
                       auto_approve=True, approval_above=1.0)
    rows = _rows(books, run_id=outcome.run_id)
    control = [r for r in rows if r.arm == "control"]
    assert control and all(r.status == "control" and r.reason == "control" for r in control)
    assert all(r.propensity == pytest.approx(0.3) for r in control)
    with books.connect() as conn:
        experiment = read_model.open_experiment(conn)
        members = read_model.experiment_members(conn, experiment.experiment_id)
        overrides = rate_overrides.level1_rates(conn, _as_of() + timedelta(days=30)).overrides
    assert experiment.seed == 99 and experiment.control_share == 0.3
    assert all(rs.draw_arm(99, m.promoter_id, 0.3)[0].value == m.arm for m in members)
    assert not {r.promoter_id for r in control} & set(overrides)
    at = _as_of() + timedelta(days=30)
    with books.begin() as conn, pytest.raises(RateSuggestionError):
        rate_overrides.approve(conn, [control[0].suggestion_id], effective_from=at,
                               decided_by="ana", decided_at=_as_of(), notice=NOTICE)


def test_cold_start_proposes_only_randomised_exploration_and_says_so(books, tmp_path):
    empty = ServingSettings(mlflow_tracking_uri=f"sqlite:///{tmp_path / 'none.db'}")
    registry = ChampionRegistry(empty)
    try:
        at = _as_of()
        outcome = suggest_rates(books, registry, RateSettings(mode="live",
                                                              cold_start_exploration=0.3),
                                empty, as_of=at, now=at, by="test", seed=3)
    finally:
        registry.close()
    rows = _rows(books, run_id=outcome.run_id)
    assert outcome.cold_start and "cold start" in outcome.summary
    assert all("Cold start" in r.explanation and r.predicted == {} for r in rows)
    explored = [r for r in rows if r.reason == "exploration"]
    assert explored and all(r.propensity == pytest.approx(0.15) for r in explored)
    assert all(abs(Decimal(r.policy_rate) - Decimal(r.current_rate)) == 0 for r in rows)
    assert all(abs(r.change) <= Decimal("0.02") for r in rows)


def test_a_later_run_supersedes_what_was_left_pending(books, registry, serving):
    first = _suggest(books, registry, serving)
    second = _suggest(books, registry, serving, later_s=1)
    superseded = _rows(books, status="superseded")
    assert superseded and {r.run_id for r in superseded} == {first.run_id}
    with books.connect() as conn:
        latest = read_model.latest_suggestions(conn)
    assert {r.run_id for r in latest.values()} == {second.run_id}


def test_books_without_active_promoters_record_an_empty_run(tmp_path, registry, serving):
    from settlement.db import create_db_engine, upgrade
    from settlement.plan import parse_plan_text
    from settlement.plan_store import store_versions

    engine = create_db_engine(f"sqlite:///{tmp_path / 'empty.db'}")
    upgrade(engine)
    with engine.begin() as conn:
        store_versions(conn, parse_plan_text(mall_files().plan_text))
    try:
        outcome = suggest_rates(engine, registry, RateSettings(mode="live"), serving,
                                as_of=_as_of(), now=_as_of(), by="test")
        assert outcome.suggestion_ids == [] and "no active promoter" in outcome.summary
        with engine.connect() as conn:
            assert [r.summary for r in read_model.suggestion_runs(conn)] == [outcome.summary]
    finally:
        engine.dispose()
