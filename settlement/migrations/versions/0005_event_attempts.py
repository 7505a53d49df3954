"""Rejected events can be decided again: count the attempts and keep every rejection's reason.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("attempts", sa.Integer(), nullable=False,
                                      server_default=sa.text("1")))
    op.create_table(
        "event_rejections",
        sa.Column("event_id", sa.String(length=128), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("rejected_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("event_id", "attempt", name=op.f("pk_event_rejections")),
    )
    # Rejections recorded before this revision: their one attempt, time unknown.
    op.execute("INSERT INTO event_rejections (event_id, attempt, reason, rejected_at) "
               "SELECT event_id, 1, COALESCE(reason, 'rejected'), NULL FROM events "
               "WHERE status = 'rejected'")


def downgrade() -> None:
    op.drop_table("event_rejections")
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_column("attempts")
