"""Index only the orders whose hold is still running.

The release job asks for orders due by now and not yet released. With a plain index on
`release_due_at` every run walked past all orders released before (millions after a year), so
release time grew with the history; a partial index holds only what is still to release.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

UNRELEASED = sa.text("released_at IS NULL")


def upgrade() -> None:
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_index("ix_orders_release_due_at")
    op.create_index("ix_orders_unreleased_due", "orders", ["release_due_at"],
                    postgresql_where=UNRELEASED, sqlite_where=UNRELEASED)


def downgrade() -> None:
    op.drop_index("ix_orders_unreleased_due", table_name="orders")
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.create_index("ix_orders_release_due_at", ["release_due_at"], unique=False)
