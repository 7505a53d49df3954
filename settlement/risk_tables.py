"""Tables of the risk workflow (issue 14): cases, their flags, orders and audit trail, the holds
that keep an order's commission pending, and the devices promoters joined from.

Cases and holds never delete a row. A case's trail (`risk_case_events`) is append-only; a hold is
lifted by stamping `lifted_at`, and the money it kept is released by the ordinary release job.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

from settlement.schema_types import BigId, Id, UTCDateTime, metadata

_ACTIVE = text("status IN ('open', 'investigating')")

risk_cases = Table(
    "risk_cases",
    metadata,
    Column("case_id", BigId, primary_key=True, autoincrement=True),
    Column("promoter_id", Id, nullable=False),
    Column("status", String(16), nullable=False),  # CaseStatus
    Column("currency", String(3), nullable=False),
    # The commission the case's orders still credit, every level: the work queue's order.
    Column("money_at_risk_minor", BigInteger, nullable=False),
    Column("opened_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    Column("decided_at", UTCDateTime()),
    Column("decided_by", String(100)),
    Column("version", Integer, nullable=False),  # optimistic lock: two deciders never both win
    # One active case per promoter: new flags join it (a concurrent opener retries and joins).
    Index("uq_risk_cases_active_promoter", "promoter_id", unique=True,
          postgresql_where=_ACTIVE, sqlite_where=_ACTIVE),
    Index(None, "status", "money_at_risk_minor"),
)

risk_case_flags = Table(
    "risk_case_flags",
    metadata,
    Column("flag_id", BigId, primary_key=True, autoincrement=True),
    Column("case_id", BigInteger, nullable=False),
    Column("flag_key", String(64), nullable=False),  # RiskFlag.key: re-scans are no-ops
    Column("rule", String(32), nullable=False),
    Column("severity", String(8), nullable=False),
    Column("source", String(16), nullable=False),  # FlagSource
    Column("evidence", Text, nullable=False),  # JSON, as the rule produced it
    Column("model_version", String(64)),
    Column("flagged_at", UTCDateTime(), nullable=False),
    UniqueConstraint("case_id", "flag_key"),
)

risk_case_orders = Table(
    "risk_case_orders",
    metadata,
    Column("case_id", BigInteger, primary_key=True),
    Column("order_id", Id, primary_key=True),
    Column("rule", String(32), nullable=False),  # the first flag that named it
    Column("added_at", UTCDateTime(), nullable=False),
    Index(None, "order_id"),
)

risk_case_events = Table(
    "risk_case_events",
    metadata,
    Column("seq", BigId, primary_key=True, autoincrement=True),
    Column("case_id", BigInteger, nullable=False),
    Column("at", UTCDateTime(), nullable=False),
    Column("actor", String(100), nullable=False),
    Column("action", String(24), nullable=False),  # CaseAction
    Column("from_status", String(16)),
    Column("to_status", String(16)),
    Column("note", Text),
    Column("detail", Text, nullable=False),  # JSON: what the action booked or joined
    Index(None, "case_id", "seq"),
)

# An order whose commission stays pending whatever its release date: held at settlement by the
# order-time screen, or frozen when a case is confirmed. Lifting it (a dismissal) lets the
# release job release it as usual.
order_holds = Table(
    "order_holds",
    metadata,
    Column("order_id", Id, primary_key=True),
    Column("case_id", BigInteger),
    Column("reason", Text, nullable=False),
    Column("held_at", UTCDateTime(), nullable=False),
    Column("held_by", String(100), nullable=False),
    Column("lifted_at", UTCDateTime()),
    Column("lifted_by", String(100)),
    Index(None, "case_id"),
)

# The device and IP hashes a promoter joined from (extra fields of `promoter_joined`), for the
# order-time self-referral check.
promoter_devices = Table(
    "promoter_devices",
    metadata,
    Column("promoter_id", Id, primary_key=True),
    Column("device_hash", String(128)),
    Column("ip_hash", String(128)),
    Index(None, "device_hash"),
    Index(None, "ip_hash"),
)

# Which ledger entries reverse which order's commission (the amounts are the entries' postings):
# a reversal is booked per order, whichever case confirmed it, so two cases naming the same
# order never reverse it twice.
risk_entries = Table(
    "risk_entries",
    metadata,
    Column("entry_id", String(160), primary_key=True),
    Column("order_id", Id, nullable=False),
    Column("case_id", BigInteger, nullable=False),
    Index(None, "order_id"),
)
