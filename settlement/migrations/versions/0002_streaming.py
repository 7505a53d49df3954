"""streaming: consumed positions and frontiers per partition, release mark, outbox

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 12:12:24.020680
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "stream_outbox",
        sa.Column("outbox_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
                  autoincrement=True, nullable=False),
        sa.Column("entry_id", sa.String(length=160), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("outbox_id", name=op.f("pk_stream_outbox")),
        sa.UniqueConstraint("entry_id", name=op.f("uq_stream_outbox_entry_id")),
    )
    with op.batch_alter_table("stream_outbox", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_stream_outbox_published_at_outbox_id"),
                              ["published_at", "outbox_id"], unique=False)
    op.create_table(
        "stream_partitions",
        sa.Column("group_id", sa.String(length=128), nullable=False),
        sa.Column("topic", sa.String(length=249), nullable=False),
        sa.Column("partition", sa.Integer(), nullable=False),
        sa.Column("next_offset", sa.BigInteger(), nullable=False),
        sa.Column("last_key", sa.String(length=80), nullable=False),
        sa.Column("reader_frontier", sa.String(length=80), nullable=False),
        sa.Column("writer_frontier", sa.String(length=80), nullable=False),
        sa.Column("low_frontier", sa.String(length=80), nullable=False),
        sa.Column("high_ts", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("group_id", "topic", "partition",
                                name=op.f("pk_stream_partitions")),
    )
    op.create_table(
        "stream_releases",
        sa.Column("group_id", sa.String(length=128), nullable=False),
        sa.Column("released_through", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("group_id", name=op.f("pk_stream_releases")),
    )


def downgrade() -> None:
    op.drop_table("stream_releases")
    op.drop_table("stream_partitions")
    with op.batch_alter_table("stream_outbox", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_stream_outbox_published_at_outbox_id"))
    op.drop_table("stream_outbox")
