"""Promoter lifecycle, people side: applications, invite codes, invite link uses, people audit.

Revision ID: 0011
Revises: 0009
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0009"
branch_labels = None
depends_on = None

WHEN = sa.DateTime(timezone=True)
ID = sa.String(length=128)
INDEX = sa.String(length=80)
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "promoter_applications",
        sa.Column("application_id", sa.String(length=32), nullable=False),
        sa.Column("user_id", ID, nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("name_token", sa.Text(), nullable=True),
        sa.Column("phone_token", sa.Text(), nullable=True),
        sa.Column("phone_index", INDEX, nullable=True),
        sa.Column("id_number_token", sa.Text(), nullable=True),
        sa.Column("documents_token", sa.Text(), nullable=True),
        sa.Column("inviter_code", sa.String(length=16), nullable=True),
        sa.Column("inviter_id", ID, nullable=True),
        sa.Column("training_completed", sa.Boolean(), nullable=False),
        sa.Column("device_index", INDEX, nullable=True),
        sa.Column("ip_index", INDEX, nullable=True),
        sa.Column("applied_at", WHEN, nullable=False),
        sa.Column("decided_at", WHEN, nullable=True),
        sa.Column("decided_by", sa.String(length=100), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("joined_event_id", ID, nullable=True),
        sa.Column("erased_at", WHEN, nullable=True),
        sa.PrimaryKeyConstraint("application_id", name=op.f("pk_promoter_applications")),
    )
    op.create_index(op.f("ix_promoter_applications_user_id"), "promoter_applications",
                    ["user_id"])
    op.create_index(op.f("ix_promoter_applications_device_index_applied_at"),
                    "promoter_applications", ["device_index", "applied_at"])
    op.create_index(op.f("ix_promoter_applications_ip_index_applied_at"),
                    "promoter_applications", ["ip_index", "applied_at"])
    op.create_index("ux_promoter_applications_live_phone", "promoter_applications",
                    ["phone_index"], unique=True,
                    sqlite_where=sa.text("status != 'rejected'"),
                    postgresql_where=sa.text("status != 'rejected'"))

    op.create_table(
        "invite_codes",
        sa.Column("code", sa.String(length=16), nullable=False),
        sa.Column("promoter_id", ID, nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("revoked_at", WHEN, nullable=True),
        sa.Column("revoked_by", sa.String(length=100), nullable=True),
        sa.Column("revoke_reason", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_invite_codes")),
    )
    op.create_index(op.f("ix_invite_codes_promoter_id"), "invite_codes", ["promoter_id"])

    op.create_table(
        "invite_uses",
        sa.Column("use_id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("event_id", ID, nullable=False),
        sa.Column("code", sa.String(length=16), nullable=False),
        sa.Column("promoter_id", ID, nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("customer_id", ID, nullable=False),
        sa.Column("channel", sa.String(length=64), nullable=True),
        sa.Column("content_id", sa.String(length=128), nullable=True),
        sa.Column("device_index", INDEX, nullable=True),
        sa.Column("ip_index", INDEX, nullable=True),
        sa.Column("at", WHEN, nullable=False),
        sa.PrimaryKeyConstraint("use_id", name=op.f("pk_invite_uses")),
        sa.UniqueConstraint("event_id", name=op.f("uq_invite_uses_event_id")),
    )
    op.create_index(op.f("ix_invite_uses_code"), "invite_uses", ["code"])
    op.create_index(op.f("ix_invite_uses_customer_id"), "invite_uses", ["customer_id"])
    op.create_index(op.f("ix_invite_uses_device_index_at"), "invite_uses",
                    ["device_index", "at"])
    op.create_index(op.f("ix_invite_uses_ip_index_at"), "invite_uses", ["ip_index", "at"])
    op.create_index("ux_invite_uses_one_registration", "invite_uses", ["customer_id"],
                    unique=True, sqlite_where=sa.text("kind = 'register'"),
                    postgresql_where=sa.text("kind = 'register'"))

    op.create_table(
        "people_audit",
        sa.Column("audit_id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("at", WHEN, nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("action", sa.String(length=40), nullable=False),
        sa.Column("subject_id", ID, nullable=False),
        sa.Column("object_id", sa.String(length=64), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("audit_id", name=op.f("pk_people_audit")),
    )
    op.create_index(op.f("ix_people_audit_subject_id"), "people_audit", ["subject_id"])
    op.create_index(op.f("ix_people_audit_at"), "people_audit", ["at"])


def downgrade() -> None:
    op.drop_table("people_audit")
    op.drop_table("invite_uses")
    op.drop_table("invite_codes")
    op.drop_table("promoter_applications")
