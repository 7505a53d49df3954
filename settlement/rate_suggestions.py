"""Rate suggestions, their decisions, the served-rate log and experiment membership: write, read.

What is stored and why (tables in `rate_tables`):
- a **run** of `fenrun rates suggest`: its instant, mode, model versions, whether the kill switch
  stopped it (a stopped run is recorded with no suggestions: "nothing happened" is a fact too);
- one immutable **suggestion** per promoter and run: current, policy and proposed rate, cadence,
  the guardrail trail, the inputs' fingerprint, predicted changes with intervals, propensity,
  explanation, mode and experiment arm;
- at most one **decision** per suggestion (approved, rejected, auto-approved, superseded), who,
  when and why; a suggestion's status is its decision's, or the status it was created with;
- the **rate assignments** log: each level-1 rate a promoter was put on, from when, with the
  probability it was chosen and the reason (policy, exploration, control, manual). Learning from a
  real mall's books needs this log, so it lives here, beside the books, not in the simulator;
- **experiments**: a control share and a seed; each promoter's arm is a pure function of the seed
  and its id (`draw_arm`), recorded the first time it is drawn, so membership can be replayed.

Writers take a `Connection` inside the caller's transaction; readers return frozen rows. Every
list read has a limit. Rates are decimal strings, exactly as they reach a plan.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, and_, func, select
from sqlalchemy.exc import IntegrityError

from settlement import rate_tables as rt
from settlement.errors import NotFound, RateSuggestionError

MAX_SUGGESTIONS_PER_RUN = 200_000
MAX_LISTED = 10_000  # rows one list read returns at most
_IN_BATCH = 5_000  # bounded IN lists (SQLite caps bound parameters)


class SuggestionStatus(StrEnum):
    PENDING = "pending"  # waits for a person (live mode) or is advice only (shadow mode)
    APPROVED = "approved"
    REJECTED = "rejected"
    BLOCKED = "blocked"  # a guardrail refused the change: never reaches a plan
    AUTO_APPROVED = "auto_approved"
    SUPERSEDED = "superseded"  # a newer suggestion for the promoter replaced it undecided
    NO_CHANGE = "no_change"  # the policy keeps the current rate
    CONTROL = "control"  # the promoter is in the experiment's control group: never applied


DECIDED = (SuggestionStatus.APPROVED, SuggestionStatus.REJECTED, SuggestionStatus.AUTO_APPROVED,
           SuggestionStatus.SUPERSEDED)
APPLIED = (SuggestionStatus.APPROVED, SuggestionStatus.AUTO_APPROVED)


class SuggestionMode(StrEnum):
    SHADOW = "shadow"  # stored and served as advice; nothing changes
    LIVE = "live"


class AssignmentReason(StrEnum):
    POLICY = "policy"  # the policy's choice
    EXPLORATION = "exploration"  # drawn at random so the next model can learn
    CONTROL = "control"  # kept at the current rate by the experiment
    MANUAL = "manual"  # set by a person, not proposed by the policy


class ExperimentArm(StrEnum):
    TREATED = "treated"
    CONTROL = "control"


@dataclass(frozen=True, slots=True)
class GuardrailStep:
    """One guardrail's verdict, as the trail stores it (rate_after a decimal string)."""

    name: str
    outcome: str  # pass | clip | block | needs_approval
    rate_after: str
    detail: str = ""


@dataclass(frozen=True, slots=True)
class PredictedChange:
    """A predicted change per cycle, in the currency's major unit, with its interval."""

    delta: str
    low: str
    high: str


@dataclass(frozen=True, slots=True)
class Driver:
    """One input that drove a suggestion: its name, its value and what it did, in words."""

    name: str
    value: str
    detail: str


@dataclass(frozen=True, slots=True)
class NewSuggestion:
    promoter_id: str
    current_rate: Decimal
    policy_rate: Decimal
    proposed_rate: Decimal
    cadence: str
    guardrails: tuple[GuardrailStep, ...]
    input_fingerprint: str
    predicted: dict[str, PredictedChange]  # margin, commission, gmv
    propensity: float
    reason: AssignmentReason
    explanation: str
    drivers: tuple[Driver, ...]
    initial_status: SuggestionStatus
    arm: ExperimentArm | None = None


@dataclass(frozen=True, slots=True)
class SuggestionRun:
    as_of: datetime
    created_at: datetime
    mode: SuggestionMode
    kill_switch: bool
    cold_start: bool
    model_versions: dict[str, str]
    summary: str
    created_by: str
    experiment_id: str | None = None
    run_id: str = field(default_factory=lambda: new_id("run"))


@dataclass(frozen=True, slots=True)
class SuggestionRow:
    """A stored suggestion with its decision (if any): what a reader sees."""

    suggestion_id: str
    run_id: str
    promoter_id: str
    as_of: datetime
    created_at: datetime
    current_rate: str
    policy_rate: str
    proposed_rate: str
    cadence: str
    guardrails: tuple[GuardrailStep, ...]
    model_versions: dict[str, str]
    input_fingerprint: str
    predicted: dict[str, PredictedChange]
    propensity: float
    reason: str
    explanation: str
    drivers: tuple[Driver, ...]
    mode: str
    arm: str | None
    experiment_id: str | None
    status: str
    decided_by: str | None
    decided_at: datetime | None
    note: str | None
    effective_from: datetime | None
    plan_version_id: str | None

    @property
    def change(self) -> Decimal:
        return Decimal(self.proposed_rate) - Decimal(self.current_rate)


@dataclass(frozen=True, slots=True)
class RunRow:
    run_id: str
    as_of: datetime
    created_at: datetime
    mode: str
    kill_switch: bool
    cold_start: bool
    model_versions: dict[str, str]
    experiment_id: str | None
    summary: str
    created_by: str


@dataclass(frozen=True, slots=True)
class Decision:
    """A decision on one suggestion; `effective_from`/`plan_version_id` for an applied one."""

    status: SuggestionStatus
    decided_by: str
    decided_at: datetime
    note: str | None = None
    effective_from: datetime | None = None
    plan_version_id: str | None = None


@dataclass(frozen=True, slots=True)
class NewAssignment:
    promoter_id: str
    rate: Decimal
    effective_from: datetime
    propensity: float
    reason: AssignmentReason
    recorded_at: datetime
    recorded_by: str
    suggestion_id: str | None = None
    arm: ExperimentArm | None = None
    experiment_id: str | None = None
    plan_version_id: str | None = None


@dataclass(frozen=True, slots=True)
class AssignmentRow:
    assignment_id: int
    promoter_id: str
    rate: str
    effective_from: datetime
    propensity: float
    reason: str
    suggestion_id: str | None
    arm: str | None
    experiment_id: str | None
    plan_version_id: str | None
    recorded_at: datetime
    recorded_by: str


@dataclass(frozen=True, slots=True)
class ExperimentRow:
    experiment_id: str
    control_share: float
    seed: int
    started_at: datetime
    started_by: str
    ended_at: datetime | None


@dataclass(frozen=True, slots=True)
class MemberRow:
    experiment_id: str
    promoter_id: str
    arm: str
    draw: float
    joined_at: datetime


def new_id(prefix: str) -> str:
    """A fresh id such as `rs_3f2a...` (32 hex digits: unique without coordination)."""
    return f"{prefix}_{uuid.uuid4().hex}"


def rate_text(rate: Decimal) -> str:
    """A rate as its plain decimal string ("0.12", never "1.2E-1")."""
    if not Decimal(0) <= rate <= Decimal(1):
        raise RateSuggestionError(f"rate: {rate} is outside 0..1")
    text = format(rate.normalize(), "f")
    return text if "." in text else f"{text}.0"


# ---------------------------------------------------------------- writing


def store_run(conn: Connection, run: SuggestionRun, suggestions: Sequence[NewSuggestion]
              ) -> list[str]:
    """Store one run and its suggestions; an undecided pending suggestion of the same promoter
    from an earlier run is superseded (decided by the run's author). Returns the new ids."""
    if len(suggestions) > MAX_SUGGESTIONS_PER_RUN:
        raise RateSuggestionError(f"suggestions: {len(suggestions)} in one run is above "
                                  f"{MAX_SUGGESTIONS_PER_RUN}")
    promoters = [s.promoter_id for s in suggestions]
    if len(set(promoters)) != len(promoters):
        raise RateSuggestionError("suggestions: a promoter appears twice in one run")
    newest = conn.execute(select(func.max(rt.rate_suggestion_runs.c.created_at))).scalar()
    if newest is not None and run.created_at <= newest:
        # runs are ordered by their instant: "the newest suggestion" must mean one thing
        raise RateSuggestionError(f"created_at: {run.created_at.isoformat()} is not after the "
                                  f"newest run's {newest.isoformat()}")
    conn.execute(rt.rate_suggestion_runs.insert().values(
        run_id=run.run_id, as_of=run.as_of, created_at=run.created_at, mode=run.mode.value,
        kill_switch=run.kill_switch, cold_start=run.cold_start,
        model_versions=json.dumps(run.model_versions, sort_keys=True),
        experiment_id=run.experiment_id, summary=run.summary, created_by=run.created_by))
    ids = [new_id("rs") for _ in suggestions]
    older = _undecided_pending(conn, promoters)
    rows = [_suggestion_values(run, sid, s) for sid, s in zip(ids, suggestions, strict=True)]
    for start in range(0, len(rows), _IN_BATCH):
        conn.execute(rt.rate_suggestions.insert(), rows[start:start + _IN_BATCH])
    by_promoter = dict(zip(promoters, ids, strict=True))
    superseded = [{"suggestion_id": old_id, "status": SuggestionStatus.SUPERSEDED.value,
                   "decided_by": run.created_by, "decided_at": run.created_at,
                   "note": f"superseded by {by_promoter[promoter]} (run {run.run_id})",
                   "effective_from": None, "plan_version_id": None}
                  for old_id, promoter in older]
    for start in range(0, len(superseded), _IN_BATCH):
        conn.execute(rt.rate_decisions.insert(), superseded[start:start + _IN_BATCH])
    return ids


def _suggestion_values(run: SuggestionRun, suggestion_id: str, s: NewSuggestion
                       ) -> dict[str, Any]:
    if not 0.0 < s.propensity <= 1.0:
        raise RateSuggestionError(f"propensity: {s.propensity} of promoter {s.promoter_id} is "
                                  "outside (0, 1]")
    if s.initial_status in DECIDED:
        raise RateSuggestionError(f"initial_status: {s.initial_status} is a decision; store "
                                  "the suggestion pending and decide it")
    return {
        "suggestion_id": suggestion_id, "run_id": run.run_id, "promoter_id": s.promoter_id,
        "as_of": run.as_of, "created_at": run.created_at,
        "current_rate": rate_text(s.current_rate), "policy_rate": rate_text(s.policy_rate),
        "proposed_rate": rate_text(s.proposed_rate), "cadence": s.cadence,
        "guardrails": json.dumps([[g.name, g.outcome, g.rate_after, g.detail]
                                  for g in s.guardrails]),
        "model_versions": json.dumps(run.model_versions, sort_keys=True),
        "input_fingerprint": s.input_fingerprint,
        "predicted": json.dumps({k: [v.delta, v.low, v.high] for k, v in s.predicted.items()},
                                sort_keys=True),
        "propensity": float(s.propensity), "reason": s.reason.value,
        "explanation": s.explanation,
        "drivers": json.dumps([[d.name, d.value, d.detail] for d in s.drivers]),
        "mode": run.mode.value, "arm": s.arm.value if s.arm is not None else None,
        "experiment_id": run.experiment_id if s.arm is not None else None,
        "initial_status": s.initial_status.value,
    }


def _undecided_pending(conn: Connection, promoters: Sequence[str]) -> list[tuple[str, str]]:
    s, d = rt.rate_suggestions.c, rt.rate_decisions.c
    found: list[tuple[str, str]] = []
    for start in range(0, len(promoters), _IN_BATCH):
        batch = promoters[start:start + _IN_BATCH]
        query = (select(s.suggestion_id, s.promoter_id)
                 .select_from(rt.rate_suggestions.outerjoin(
                     rt.rate_decisions, d.suggestion_id == s.suggestion_id))
                 .where(s.promoter_id.in_(batch), d.suggestion_id.is_(None),
                        s.initial_status == SuggestionStatus.PENDING.value))
        found.extend((row[0], row[1]) for row in conn.execute(query))
    return found


def decide(conn: Connection, suggestion_id: str, decision: Decision) -> SuggestionRow:
    """Record the one decision on a pending suggestion; refuse any other (typed error)."""
    row = get_suggestion(conn, suggestion_id)
    if decision.status not in DECIDED:
        raise RateSuggestionError(f"status: {decision.status} is not a decision")
    if row.status != SuggestionStatus.PENDING:
        raise RateSuggestionError(f"suggestion {suggestion_id}: it is {row.status}, only a "
                                  "pending suggestion can be decided")
    if decision.status in APPLIED and (decision.effective_from is None
                                       or decision.plan_version_id is None):
        raise RateSuggestionError(f"suggestion {suggestion_id}: an applied decision needs "
                                  "effective_from and plan_version_id")
    if decision.status in APPLIED and row.mode != SuggestionMode.LIVE:
        raise RateSuggestionError(f"suggestion {suggestion_id}: made in {row.mode} mode, which "
                                  "is advice only and never changes a plan")
    try:  # the primary key settles a race between two deciders: the second one fails here
        conn.execute(rt.rate_decisions.insert().values(
            suggestion_id=suggestion_id, status=decision.status.value,
            decided_by=decision.decided_by, decided_at=decision.decided_at,
            note=decision.note, effective_from=decision.effective_from,
            plan_version_id=decision.plan_version_id))
    except IntegrityError:
        raise RateSuggestionError(f"suggestion {suggestion_id}: already decided") from None
    return get_suggestion(conn, suggestion_id)


def record_assignment(conn: Connection, assignment: NewAssignment) -> int:
    """Append one served rate to the log; returns its id. One per suggestion at most."""
    if not 0.0 < assignment.propensity <= 1.0:
        raise RateSuggestionError(f"propensity: {assignment.propensity} is outside (0, 1]")
    result = conn.execute(rt.rate_assignments.insert().values(
        promoter_id=assignment.promoter_id, rate=rate_text(assignment.rate),
        effective_from=assignment.effective_from, propensity=float(assignment.propensity),
        reason=assignment.reason.value, suggestion_id=assignment.suggestion_id,
        arm=assignment.arm.value if assignment.arm is not None else None,
        experiment_id=assignment.experiment_id, plan_version_id=assignment.plan_version_id,
        recorded_at=assignment.recorded_at, recorded_by=assignment.recorded_by))
    key = result.inserted_primary_key
    if key is None:
        raise RateSuggestionError("rate_assignments: the database returned no id")
    return int(key[0])


# ---------------------------------------------------------------- experiments


def draw_arm(seed: int, promoter_id: str, control_share: float) -> tuple[ExperimentArm, float]:
    """The promoter's arm and the uniform draw behind it: a pure function of seed and id, so
    anyone holding the recorded seed can replay the whole membership."""
    digest = hashlib.sha256(f"{seed}:{promoter_id}".encode()).digest()
    draw = int.from_bytes(digest[:8], "big") / 2**64
    return (ExperimentArm.CONTROL if draw < control_share else ExperimentArm.TREATED), draw


def start_experiment(conn: Connection, control_share: float, seed: int, at: datetime, by: str
                     ) -> ExperimentRow:
    """Open a new experiment; an open one must be ended first (one control group at a time)."""
    if not 0.0 < control_share < 1.0:
        raise RateSuggestionError(f"control_share: {control_share} is outside (0, 1)")
    if not 0 <= seed < 2**63:
        raise RateSuggestionError(f"seed: {seed} is outside 0..2**63-1")
    current = open_experiment(conn)
    if current is not None:
        raise RateSuggestionError(f"experiment {current.experiment_id} is still open; end it "
                                  "before starting another")
    row = ExperimentRow(new_id("exp"), control_share, seed, at, by, None)
    conn.execute(rt.rate_experiments.insert().values(
        experiment_id=row.experiment_id, control_share=control_share, seed=seed,
        started_at=at, started_by=by, ended_at=None))
    return row


def end_experiment(conn: Connection, experiment_id: str, at: datetime) -> None:
    e = rt.rate_experiments.c
    done = conn.execute(rt.rate_experiments.update()
                        .where(e.experiment_id == experiment_id, e.ended_at.is_(None))
                        .values(ended_at=at)).rowcount
    if done != 1:
        raise RateSuggestionError(f"experiment {experiment_id}: not open")


def assign_members(conn: Connection, experiment: ExperimentRow, promoter_ids: Iterable[str],
                   at: datetime) -> dict[str, ExperimentArm]:
    """Each promoter's arm: the recorded one, or drawn now (`draw_arm`) and recorded."""
    wanted = sorted(set(promoter_ids))
    m = rt.rate_experiment_members.c
    arms: dict[str, ExperimentArm] = {}
    for start in range(0, len(wanted), _IN_BATCH):
        batch = wanted[start:start + _IN_BATCH]
        for promoter, arm in conn.execute(select(m.promoter_id, m.arm).where(
                m.experiment_id == experiment.experiment_id, m.promoter_id.in_(batch))):
            arms[promoter] = ExperimentArm(arm)
    fresh = []
    for promoter in wanted:
        if promoter not in arms:
            arm, draw = draw_arm(experiment.seed, promoter, experiment.control_share)
            arms[promoter] = arm
            fresh.append({"experiment_id": experiment.experiment_id, "promoter_id": promoter,
                          "arm": arm.value, "draw": draw, "joined_at": at})
    for start in range(0, len(fresh), _IN_BATCH):
        conn.execute(rt.rate_experiment_members.insert(), fresh[start:start + _IN_BATCH])
    return arms


# ---------------------------------------------------------------- reading


def _suggestion_query() -> Any:
    s, d = rt.rate_suggestions.c, rt.rate_decisions.c
    return (select(rt.rate_suggestions, d.status, d.decided_by, d.decided_at, d.note,
                   d.effective_from, d.plan_version_id)
            .select_from(rt.rate_suggestions.outerjoin(
                rt.rate_decisions, d.suggestion_id == s.suggestion_id)))


def _to_row(row: Any) -> SuggestionRow:
    m = row._mapping
    return SuggestionRow(
        suggestion_id=m["suggestion_id"], run_id=m["run_id"], promoter_id=m["promoter_id"],
        as_of=m["as_of"], created_at=m["created_at"], current_rate=m["current_rate"],
        policy_rate=m["policy_rate"], proposed_rate=m["proposed_rate"], cadence=m["cadence"],
        guardrails=tuple(GuardrailStep(*g) for g in json.loads(m["guardrails"])),
        model_versions=json.loads(m["model_versions"]),
        input_fingerprint=m["input_fingerprint"],
        predicted={k: PredictedChange(*v) for k, v in json.loads(m["predicted"]).items()},
        propensity=float(m["propensity"]), reason=m["reason"], explanation=m["explanation"],
        drivers=tuple(Driver(*d) for d in json.loads(m["drivers"])), mode=m["mode"],
        arm=m["arm"], experiment_id=m["experiment_id"],
        status=m["status"] or m["initial_status"], decided_by=m["decided_by"],
        decided_at=m["decided_at"], note=m["note"], effective_from=m["effective_from"],
        plan_version_id=m["plan_version_id"])


def get_suggestion(conn: Connection, suggestion_id: str) -> SuggestionRow:
    row = conn.execute(_suggestion_query().where(
        rt.rate_suggestions.c.suggestion_id == suggestion_id)).first()
    if row is None:
        raise NotFound(f"suggestion {suggestion_id!r} does not exist")
    return _to_row(row)


def list_suggestions(conn: Connection, *, status: str | None = None,
                     promoter_id: str | None = None, run_id: str | None = None,
                     limit: int = 1000) -> list[SuggestionRow]:
    """Suggestions, newest first, filtered by status (decided or initial), promoter or run."""
    if not 1 <= limit <= MAX_LISTED:
        raise RateSuggestionError(f"limit: {limit} is outside 1..{MAX_LISTED}")
    s, d = rt.rate_suggestions.c, rt.rate_decisions.c
    query = _suggestion_query()
    if status is not None:
        SuggestionStatus(status)  # a typo is an error, not an empty list
        query = query.where(func.coalesce(d.status, s.initial_status) == status)
    if promoter_id is not None:
        query = query.where(s.promoter_id == promoter_id)
    if run_id is not None:
        query = query.where(s.run_id == run_id)
    query = query.order_by(s.created_at.desc(), s.promoter_id).limit(limit)
    return [_to_row(row) for row in conn.execute(query)]


def latest_suggestions(conn: Connection, promoter_ids: Sequence[str] | None = None
                       ) -> dict[str, SuggestionRow]:
    """Each promoter's newest suggestion (of the newest run that covered it), with its status:
    what the recommended-rate route serves. Bounded by MAX_SUGGESTIONS_PER_RUN promoters."""
    s = rt.rate_suggestions.c
    newest = (select(s.promoter_id, func.max(s.created_at).label("at"))
              .group_by(s.promoter_id).subquery())
    query = _suggestion_query().join(newest, and_(newest.c.promoter_id == s.promoter_id,
                                                  newest.c.at == s.created_at))
    if promoter_ids is None:
        batches = [query.limit(MAX_SUGGESTIONS_PER_RUN)]
    else:
        wanted = list(dict.fromkeys(promoter_ids))
        if len(wanted) > MAX_SUGGESTIONS_PER_RUN:
            raise RateSuggestionError(f"promoter_ids: {len(wanted)} asked for; at most "
                                      f"{MAX_SUGGESTIONS_PER_RUN}")
        batches = [query.where(s.promoter_id.in_(wanted[i:i + _IN_BATCH]))
                   for i in range(0, len(wanted), _IN_BATCH)]
    found: dict[str, SuggestionRow] = {}
    for batch in batches:
        for row in conn.execute(batch):
            suggestion = _to_row(row)
            found[suggestion.promoter_id] = suggestion  # runs have distinct instants
    return found


def suggestions_marker(conn: Connection) -> tuple[int, int, datetime | None, datetime | None]:
    """(suggestions, decisions, newest created_at, newest decided_at): changes whenever a
    suggestion is stored or decided, so an in-memory copy knows when to reload (two aggregates
    over indexed tables, cheap enough to ask per refresh)."""
    s, d = rt.rate_suggestions.c, rt.rate_decisions.c
    made, newest = conn.execute(select(func.count(), func.max(s.created_at))).one()
    decided, last = conn.execute(select(func.count(), func.max(d.decided_at))).one()
    return int(made), int(decided), newest, last


def suggestion_runs(conn: Connection, limit: int = 100) -> list[RunRow]:
    """Runs, newest first (kill-switch stops included)."""
    if not 1 <= limit <= MAX_LISTED:
        raise RateSuggestionError(f"limit: {limit} is outside 1..{MAX_LISTED}")
    r = rt.rate_suggestion_runs.c
    rows = conn.execute(select(rt.rate_suggestion_runs)
                        .order_by(r.created_at.desc()).limit(limit)).all()
    return [RunRow(row.run_id, row.as_of, row.created_at, row.mode, bool(row.kill_switch),
                   bool(row.cold_start), json.loads(row.model_versions), row.experiment_id,
                   row.summary, row.created_by) for row in rows]


def rate_assignments(conn: Connection, *, promoter_id: str | None = None,
                     as_of: datetime | None = None, limit: int = MAX_LISTED
                     ) -> list[AssignmentRow]:
    """The served-rate log, oldest effective first; `as_of` keeps rows recorded by then."""
    if not 1 <= limit <= MAX_SUGGESTIONS_PER_RUN:
        raise RateSuggestionError(f"limit: {limit} is outside 1..{MAX_SUGGESTIONS_PER_RUN}")
    a = rt.rate_assignments.c
    query = select(rt.rate_assignments)
    if promoter_id is not None:
        query = query.where(a.promoter_id == promoter_id)
    if as_of is not None:
        query = query.where(a.recorded_at <= as_of)
    query = query.order_by(a.effective_from, a.assignment_id).limit(limit)
    return [AssignmentRow(*row) for row in conn.execute(query)]


def open_experiment(conn: Connection) -> ExperimentRow | None:
    e = rt.rate_experiments.c
    row = conn.execute(select(rt.rate_experiments).where(e.ended_at.is_(None))
                       .order_by(e.started_at.desc())).first()
    return ExperimentRow(*row) if row is not None else None


def experiments(conn: Connection) -> list[ExperimentRow]:
    e = rt.rate_experiments.c
    rows = conn.execute(select(rt.rate_experiments).order_by(e.started_at).limit(MAX_LISTED))
    return [ExperimentRow(*row) for row in rows]


def experiment_members(conn: Connection, experiment_id: str) -> list[MemberRow]:
    m = rt.rate_experiment_members.c
    rows = conn.execute(select(rt.rate_experiment_members)
                        .where(m.experiment_id == experiment_id)
                        .order_by(m.promoter_id).limit(MAX_SUGGESTIONS_PER_RUN))
    return [MemberRow(*row) for row in rows]
