"""Risk cases, their flags, orders and audit trail; order holds; promoters' join devices; what a
payout kept back for open cases.

Revision ID: 0008
Revises: 0006
Create Date: 2026-11-26
"""

import json

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0006"
branch_labels = None
depends_on = None

_ACTIVE = sa.text("status IN ('open', 'investigating')")


def upgrade() -> None:
    op.create_table(
        "risk_cases",
        sa.Column("case_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
                  autoincrement=True, nullable=False),
        sa.Column("promoter_id", sa.String(length=128), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("money_at_risk_minor", sa.BigInteger(), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_by", sa.String(length=100), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("case_id", name=op.f("pk_risk_cases")),
    )
    op.create_index("uq_risk_cases_active_promoter", "risk_cases", ["promoter_id"], unique=True,
                    postgresql_where=_ACTIVE, sqlite_where=_ACTIVE)
    op.create_index(op.f("ix_risk_cases_status_money_at_risk_minor"), "risk_cases",
                    ["status", "money_at_risk_minor"])
    op.create_table(
        "risk_case_flags",
        sa.Column("flag_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
                  autoincrement=True, nullable=False),
        sa.Column("case_id", sa.BigInteger(), nullable=False),
        sa.Column("flag_key", sa.String(length=64), nullable=False),
        sa.Column("rule", sa.String(length=32), nullable=False),
        sa.Column("severity", sa.String(length=8), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("evidence", sa.Text(), nullable=False),
        sa.Column("model_version", sa.String(length=64), nullable=True),
        sa.Column("flagged_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("flag_id", name=op.f("pk_risk_case_flags")),
        sa.UniqueConstraint("case_id", "flag_key",
                            name=op.f("uq_risk_case_flags_case_id_flag_key")),
    )
    op.create_table(
        "risk_case_orders",
        sa.Column("case_id", sa.BigInteger(), nullable=False),
        sa.Column("order_id", sa.String(length=128), nullable=False),
        sa.Column("rule", sa.String(length=32), nullable=False),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("case_id", "order_id", name=op.f("pk_risk_case_orders")),
    )
    op.create_index(op.f("ix_risk_case_orders_order_id"), "risk_case_orders", ["order_id"])
    op.create_table(
        "risk_case_events",
        sa.Column("seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
                  autoincrement=True, nullable=False),
        sa.Column("case_id", sa.BigInteger(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("action", sa.String(length=24), nullable=False),
        sa.Column("from_status", sa.String(length=16), nullable=True),
        sa.Column("to_status", sa.String(length=16), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_risk_case_events")),
    )
    op.create_index(op.f("ix_risk_case_events_case_id_seq"), "risk_case_events",
                    ["case_id", "seq"])
    op.create_table(
        "order_holds",
        sa.Column("order_id", sa.String(length=128), nullable=False),
        sa.Column("case_id", sa.BigInteger(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("held_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("held_by", sa.String(length=100), nullable=False),
        sa.Column("lifted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("lifted_by", sa.String(length=100), nullable=True),
        sa.PrimaryKeyConstraint("order_id", name=op.f("pk_order_holds")),
    )
    op.create_index(op.f("ix_order_holds_case_id"), "order_holds", ["case_id"])
    op.create_table(
        "risk_entries",
        sa.Column("entry_id", sa.String(length=160), nullable=False),
        sa.Column("order_id", sa.String(length=128), nullable=False),
        sa.Column("case_id", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("entry_id", name=op.f("pk_risk_entries")),
    )
    op.create_index(op.f("ix_risk_entries_order_id"), "risk_entries", ["order_id"])
    devices = op.create_table(
        "promoter_devices",
        sa.Column("promoter_id", sa.String(length=128), nullable=False),
        sa.Column("device_hash", sa.String(length=128), nullable=True),
        sa.Column("ip_hash", sa.String(length=128), nullable=True),
        sa.PrimaryKeyConstraint("promoter_id", name=op.f("pk_promoter_devices")),
    )
    op.create_index(op.f("ix_promoter_devices_device_hash"), "promoter_devices", ["device_hash"])
    op.create_index(op.f("ix_promoter_devices_ip_hash"), "promoter_devices", ["ip_hash"])
    _backfill_devices(devices)
    with op.batch_alter_table("payouts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("kept_back_minor", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("kept_back_reason", sa.Text(), nullable=True))


def _backfill_devices(devices: sa.Table) -> None:
    """Promoters who joined before this revision: their devices from the stored join events,
    read in pages so a large book never sits in memory at once."""
    conn = op.get_bind()
    last, page = "", 5_000
    while True:
        rows = conn.execute(sa.text(
            "SELECT event_id, payload FROM events WHERE type = 'promoter_joined' "
            "AND status = 'applied' AND event_id > :last ORDER BY event_id LIMIT :page"),
            {"last": last, "page": page}).all()
        found = []
        for _event_id, payload in rows:
            body = json.loads(payload)
            device, ip = body.get("device_hash"), body.get("ip_hash")
            if isinstance(device, str) or isinstance(ip, str):
                found.append({"promoter_id": body["promoter_id"],
                              "device_hash": device if isinstance(device, str) else None,
                              "ip_hash": ip if isinstance(ip, str) else None})
        if found:
            op.bulk_insert(devices, found)
        if len(rows) < page:
            return
        last = rows[-1][0]


def downgrade() -> None:
    with op.batch_alter_table("payouts", schema=None) as batch_op:
        batch_op.drop_column("kept_back_reason")
        batch_op.drop_column("kept_back_minor")
    op.drop_index(op.f("ix_promoter_devices_ip_hash"), table_name="promoter_devices")
    op.drop_index(op.f("ix_promoter_devices_device_hash"), table_name="promoter_devices")
    op.drop_table("promoter_devices")
    op.drop_index(op.f("ix_risk_entries_order_id"), table_name="risk_entries")
    op.drop_table("risk_entries")
    op.drop_index(op.f("ix_order_holds_case_id"), table_name="order_holds")
    op.drop_table("order_holds")
    op.drop_index(op.f("ix_risk_case_events_case_id_seq"), table_name="risk_case_events")
    op.drop_table("risk_case_events")
    op.drop_index(op.f("ix_risk_case_orders_order_id"), table_name="risk_case_orders")
    op.drop_table("risk_case_orders")
    op.drop_table("risk_case_flags")
    op.drop_index(op.f("ix_risk_cases_status_money_at_risk_minor"), table_name="risk_cases")
    op.drop_index("uq_risk_cases_active_promoter", table_name="risk_cases")
    op.drop_table("risk_cases")
