"""Rate suggestions, their decisions, the served-rate log (rate assignments) and experiments.

Revision ID: 0006
Revises: 0007
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0007"
branch_labels = None
depends_on = None

RATE = sa.String(length=24)
ID = sa.String(length=40)


def _at(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "rate_suggestion_runs",
        sa.Column("run_id", ID, nullable=False),
        _at("as_of"),
        _at("created_at"),
        sa.Column("mode", sa.String(length=8), nullable=False),
        sa.Column("kill_switch", sa.Boolean(), nullable=False),
        sa.Column("cold_start", sa.Boolean(), nullable=False),
        sa.Column("model_versions", sa.Text(), nullable=False),
        sa.Column("experiment_id", ID, nullable=True),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.PrimaryKeyConstraint("run_id", name=op.f("pk_rate_suggestion_runs")),
    )
    op.create_table(
        "rate_suggestions",
        sa.Column("suggestion_id", ID, nullable=False),
        sa.Column("run_id", ID, nullable=False),
        sa.Column("promoter_id", sa.String(length=128), nullable=False),
        _at("as_of"),
        _at("created_at"),
        sa.Column("current_rate", RATE, nullable=False),
        sa.Column("policy_rate", RATE, nullable=False),
        sa.Column("proposed_rate", RATE, nullable=False),
        sa.Column("cadence", sa.String(length=16), nullable=False),
        sa.Column("guardrails", sa.Text(), nullable=False),
        sa.Column("model_versions", sa.Text(), nullable=False),
        sa.Column("input_fingerprint", sa.String(length=64), nullable=False),
        sa.Column("predicted", sa.Text(), nullable=False),
        sa.Column("propensity", sa.Float(), nullable=False),
        sa.Column("reason", sa.String(length=16), nullable=False),
        sa.Column("explanation", sa.Text(), nullable=False),
        sa.Column("drivers", sa.Text(), nullable=False),
        sa.Column("mode", sa.String(length=8), nullable=False),
        sa.Column("arm", sa.String(length=8), nullable=True),
        sa.Column("experiment_id", ID, nullable=True),
        sa.Column("initial_status", sa.String(length=16), nullable=False),
        sa.PrimaryKeyConstraint("suggestion_id", name=op.f("pk_rate_suggestions")),
    )
    op.create_index(op.f("ix_rate_suggestions_promoter_id_created_at"), "rate_suggestions",
                    ["promoter_id", "created_at"])
    op.create_index(op.f("ix_rate_suggestions_run_id"), "rate_suggestions", ["run_id"])
    op.create_table(
        "rate_decisions",
        sa.Column("suggestion_id", ID, nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("decided_by", sa.String(length=100), nullable=False),
        _at("decided_at"),
        sa.Column("note", sa.Text(), nullable=True),
        _at("effective_from", nullable=True),
        sa.Column("plan_version_id", sa.String(length=32), nullable=True),
        sa.PrimaryKeyConstraint("suggestion_id", name=op.f("pk_rate_decisions")),
    )
    op.create_table(
        "rate_assignments",
        sa.Column("assignment_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
                  autoincrement=True, nullable=False),
        sa.Column("promoter_id", sa.String(length=128), nullable=False),
        sa.Column("rate", RATE, nullable=False),
        _at("effective_from"),
        sa.Column("propensity", sa.Float(), nullable=False),
        sa.Column("reason", sa.String(length=16), nullable=False),
        sa.Column("suggestion_id", ID, nullable=True),
        sa.Column("arm", sa.String(length=8), nullable=True),
        sa.Column("experiment_id", ID, nullable=True),
        sa.Column("plan_version_id", sa.String(length=32), nullable=True),
        _at("recorded_at"),
        sa.Column("recorded_by", sa.String(length=100), nullable=False),
        sa.PrimaryKeyConstraint("assignment_id", name=op.f("pk_rate_assignments")),
        sa.UniqueConstraint("suggestion_id", name=op.f("uq_rate_assignments_suggestion_id")),
    )
    op.create_index(op.f("ix_rate_assignments_promoter_id_effective_from"), "rate_assignments",
                    ["promoter_id", "effective_from"])
    op.create_table(
        "rate_experiments",
        sa.Column("experiment_id", ID, nullable=False),
        sa.Column("control_share", sa.Float(), nullable=False),
        sa.Column("seed", sa.BigInteger(), nullable=False),
        _at("started_at"),
        sa.Column("started_by", sa.String(length=100), nullable=False),
        _at("ended_at", nullable=True),
        sa.PrimaryKeyConstraint("experiment_id", name=op.f("pk_rate_experiments")),
    )
    op.create_table(
        "rate_experiment_members",
        sa.Column("experiment_id", ID, nullable=False),
        sa.Column("promoter_id", sa.String(length=128), nullable=False),
        sa.Column("arm", sa.String(length=8), nullable=False),
        sa.Column("draw", sa.Float(), nullable=False),
        _at("joined_at"),
        sa.PrimaryKeyConstraint("experiment_id", "promoter_id",
                                name=op.f("pk_rate_experiment_members")),
    )


def downgrade() -> None:
    op.drop_table("rate_experiment_members")
    op.drop_table("rate_experiments")
    op.drop_index(op.f("ix_rate_assignments_promoter_id_effective_from"),
                  table_name="rate_assignments")
    op.drop_table("rate_assignments")
    op.drop_table("rate_decisions")
    op.drop_index(op.f("ix_rate_suggestions_run_id"), table_name="rate_suggestions")
    op.drop_index(op.f("ix_rate_suggestions_promoter_id_created_at"),
                  table_name="rate_suggestions")
    op.drop_table("rate_suggestions")
    op.drop_table("rate_suggestion_runs")
