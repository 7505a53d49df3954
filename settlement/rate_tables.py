"""Tables of rate suggestions, their decisions, the served-rate log and rate experiments.

Declared on the core's `metadata` (the Alembic migration 0006 mirrors them). Why four tables and
not one mutable row per suggestion: a suggestion is evidence (what the policy proposed, from which
inputs and models, through which guardrail verdicts) and never changes; the one decision taken on
it is a separate row whose primary key is the suggestion id, so a suggestion is decided at most
once, even by two people at the same instant. Rates are decimal strings ("0.12"), exactly as they
reach a plan; predicted amounts are decimal strings in the currency's major unit.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, Float, Index, String, Table, Text

from settlement.schema_types import BigId, Id, UTCDateTime, metadata

RATE = String(24)  # a rate as a decimal string, "0.12"

# One `fenrun rates suggest` run: its instant, mode, whether the kill switch stopped it, and why.
rate_suggestion_runs = Table(
    "rate_suggestion_runs",
    metadata,
    Column("run_id", String(40), primary_key=True),
    Column("as_of", UTCDateTime(), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("mode", String(8), nullable=False),  # shadow | live
    Column("kill_switch", Boolean, nullable=False),
    Column("cold_start", Boolean, nullable=False),
    Column("model_versions", Text, nullable=False),  # JSON {registered name: version}
    Column("experiment_id", String(40)),
    Column("summary", Text, nullable=False),  # what the run did, in words
    Column("created_by", String(100), nullable=False),
)

rate_suggestions = Table(
    "rate_suggestions",
    metadata,
    Column("suggestion_id", String(40), primary_key=True),
    Column("run_id", String(40), nullable=False),
    Column("promoter_id", Id, nullable=False),
    Column("as_of", UTCDateTime(), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("current_rate", RATE, nullable=False),
    Column("policy_rate", RATE, nullable=False),  # what the policy chose, before the guardrails
    Column("proposed_rate", RATE, nullable=False),  # after the guardrails
    Column("cadence", String(16), nullable=False),
    Column("guardrails", Text, nullable=False),  # JSON [{name, outcome, rate_after, detail}]
    Column("model_versions", Text, nullable=False),  # JSON {registered name: version}
    Column("input_fingerprint", String(64), nullable=False),
    Column("predicted", Text, nullable=False),  # JSON {metric: {delta, low, high}}, decimals
    Column("propensity", Float, nullable=False),  # probability this rate was the one chosen
    Column("reason", String(16), nullable=False),  # AssignmentReason
    Column("explanation", Text, nullable=False),
    Column("drivers", Text, nullable=False),  # JSON [{name, value, detail}]
    Column("mode", String(8), nullable=False),  # shadow | live
    Column("arm", String(8)),  # treated | control; NULL without an experiment
    Column("experiment_id", String(40)),
    Column("initial_status", String(16), nullable=False),  # pending | blocked | no_change | ...
    Index(None, "promoter_id", "created_at"),
    Index(None, "run_id"),
)

# At most one decision per suggestion (the primary key): approved, rejected, auto_approved or
# superseded, who and when, the note, and for an applied one the instant and plan version.
rate_decisions = Table(
    "rate_decisions",
    metadata,
    Column("suggestion_id", String(40), primary_key=True),
    Column("status", String(16), nullable=False),
    Column("decided_by", String(100), nullable=False),
    Column("decided_at", UTCDateTime(), nullable=False),
    Column("note", Text),
    Column("effective_from", UTCDateTime()),
    Column("plan_version_id", String(32)),
)

# The served-rate log: every level-1 rate a promoter was put on, with the probability it was
# chosen and why. Learning from the books needs exactly this (propensities make the log usable).
rate_assignments = Table(
    "rate_assignments",
    metadata,
    Column("assignment_id", BigId, primary_key=True, autoincrement=True),
    Column("promoter_id", Id, nullable=False),
    Column("rate", RATE, nullable=False),
    Column("effective_from", UTCDateTime(), nullable=False),
    Column("propensity", Float, nullable=False),
    Column("reason", String(16), nullable=False),  # policy | exploration | control | manual
    Column("suggestion_id", String(40), unique=True),
    Column("arm", String(8)),
    Column("experiment_id", String(40)),
    Column("plan_version_id", String(32)),
    Column("recorded_at", UTCDateTime(), nullable=False),
    Column("recorded_by", String(100), nullable=False),
    Index(None, "promoter_id", "effective_from"),
)

rate_experiments = Table(
    "rate_experiments",
    metadata,
    Column("experiment_id", String(40), primary_key=True),
    Column("control_share", Float, nullable=False),
    Column("seed", BigInteger, nullable=False),  # membership = f(seed, promoter id), replayable
    Column("started_at", UTCDateTime(), nullable=False),
    Column("started_by", String(100), nullable=False),
    Column("ended_at", UTCDateTime()),
)

rate_experiment_members = Table(
    "rate_experiment_members",
    metadata,
    Column("experiment_id", String(40), primary_key=True),
    Column("promoter_id", Id, primary_key=True),
    Column("arm", String(8), nullable=False),  # treated | control
    Column("draw", Float, nullable=False),  # the uniform draw that decided the arm
    Column("joined_at", UTCDateTime(), nullable=False),
)
