"""Drop three indexes nobody reads: every settled order, touch and join paid for them.

Touches are read by customer (ix_touches_customer_id_ts) and in full by the read model, never by
promoter; orders by id, by due date and by payment instant, never by customer; promoters by id
or in full, never by parent (ancestries are walked id by id). Data is untouched.

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-26
"""

from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

DROPPED = (("touches", "ix_touches_promoter_id", "promoter_id"),
           ("orders", "ix_orders_customer_id", "customer_id"),
           ("promoters", "ix_promoters_parent_id", "parent_id"))


def upgrade() -> None:
    for table, name, _ in DROPPED:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_index(name)


def downgrade() -> None:
    for table, name, column in DROPPED:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.create_index(name, [column], unique=False)
