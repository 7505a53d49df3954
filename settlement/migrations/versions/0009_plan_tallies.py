"""Plans v2 accumulators: month GMV, ladder and grade GMV, day grants, regional agents.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "plan_tallies",
        sa.Column("tally_key", sa.String(length=300), nullable=False),
        sa.Column("owner_id", sa.String(length=140), nullable=False),
        sa.Column("period", sa.String(length=10), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("tally_key", name=op.f("pk_plan_tallies")),
    )
    op.create_index(op.f("ix_plan_tallies_owner_id_period"), "plan_tallies", ["owner_id", "period"],
                    unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_plan_tallies_owner_id_period"), table_name="plan_tallies")
    op.drop_table("plan_tallies")
