"""Database tables of the settlement core (SQLAlchemy Core; the Alembic migrations mirror them).

Money columns are BIGINT minor units: SQLAlchemy's Numeric goes through float on SQLite. Instants
are stored in UTC and always come back timezone-aware. Idempotency lives in unique keys: an event
id, an entry id (one per event, release or payout) and an order id can each be written once.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Index,
    Integer,
    String,
    Table,
    Text,
    text,
)

from settlement.schema_types import BigId, Id, UTCDateTime, metadata

plan_versions = Table(
    "plan_versions",
    metadata,
    Column("version_id", String(32), primary_key=True),
    Column("effective_from", UTCDateTime(), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("content_hash", String(64), nullable=False),
    Column("document", Text, nullable=False),
    Column("recorded_at", UTCDateTime(), nullable=False),
)

events = Table(
    "events",
    metadata,
    Column("event_id", Id, primary_key=True),
    Column("type", String(32), nullable=False),
    Column("ts", UTCDateTime(), nullable=False),
    Column("payload_hash", String(64), nullable=False),
    Column("status", String(16), nullable=False),  # EventStatus: applied | rejected
    Column("reason", Text),  # why it is rejected now (the newest decision); NULL once applied
    Column("payload", Text, nullable=False),
    # Decisions recorded so far: a rejected event delivered again is decided again. Doubles as
    # the row's version, so two writers never both turn the same rejection into an application.
    Column("attempts", Integer, nullable=False, server_default=text("1")),
    Index(None, "type", "ts"),
)

# Every rejection of every attempt, kept when the event is later applied: the audit trail of
# what the books refused and why. `rejected_at` is the wall clock of the decision (NULL for
# rejections recorded before migration 0005 kept them).
event_rejections = Table(
    "event_rejections",
    metadata,
    Column("event_id", Id, primary_key=True),
    Column("attempt", Integer, primary_key=True),
    Column("reason", Text, nullable=False),
    Column("rejected_at", UTCDateTime()),
)

promoters = Table(
    "promoters",
    metadata,
    Column("promoter_id", Id, primary_key=True),
    Column("parent_id", Id),
    Column("grade", String(64)),
    Column("joined_at", UTCDateTime(), nullable=False),
    Column("suspended", Boolean, nullable=False, default=False),
    Column("version", Integer, nullable=False, default=1),
    # No index on parent_id: ancestries are walked id by id (migration 0013 dropped it).
)

touches = Table(
    "touches",
    metadata,
    Column("touch_id", BigId, primary_key=True, autoincrement=True),
    Column("event_id", Id, nullable=False),
    Column("customer_id", Id, nullable=False),
    Column("promoter_id", Id, nullable=False),
    Column("ts", UTCDateTime(), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("channel", String(64)),
    Index(None, "customer_id", "ts"),  # attribution reads a customer's recent touches
    # No index on promoter_id: nobody reads touches by promoter (migration 0013 dropped it).
)

customer_bindings = Table(
    "customer_bindings",
    metadata,
    Column("customer_id", Id, primary_key=True),
    Column("promoter_id", Id, nullable=False),
    Column("bound_at", UTCDateTime(), nullable=False),
    Column("event_id", Id, nullable=False),
)

orders = Table(
    "orders",
    metadata,
    Column("order_id", Id, primary_key=True),
    Column("customer_id", Id, nullable=False),
    Column("merchant_id", Id, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("plan_version_id", String(32), nullable=False),
    Column("paid_at", UTCDateTime(), nullable=False),
    Column("confirmed_at", UTCDateTime()),
    Column("release_due_at", UTCDateTime()),
    Column("released_at", UTCDateTime()),
    Column("gross_minor", BigInteger, nullable=False),
    Column("refunded_minor", BigInteger, nullable=False),
    Column("lines", Text, nullable=False),  # JSON [[sku, category, amount, refunded], ...]
    Column("beneficiaries", Text, nullable=False),  # JSON [[promoter, level, "n/d"], ...]
    Column("allocation", Text, nullable=False),  # JSON {"platform": n, "merchant": n, ...}
    Column("version", Integer, nullable=False),
    # No index on customer_id: orders are read by id, due date and payment instant (0013).
    # Only holds still running: the release job never walks past what it released before.
    Index("ix_orders_unreleased_due", "release_due_at",
          postgresql_where=text("released_at IS NULL"), sqlite_where=text("released_at IS NULL")),
    Index(None, "paid_at"),
)

journal_entries = Table(
    "journal_entries",
    metadata,
    Column("entry_id", String(160), primary_key=True),
    Column("kind", String(16), nullable=False),  # EntryKind
    Column("occurred_at", UTCDateTime(), nullable=False),
    Column("event_id", Id),
    Column("plan_version_id", String(32)),
    Index(None, "occurred_at"),
)

postings = Table(
    "postings",
    metadata,
    Column("posting_id", BigId, primary_key=True, autoincrement=True),
    Column("entry_id", String(160), nullable=False),
    Column("account_kind", String(32), nullable=False),  # AccountKind
    Column("owner_id", Id, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("amount_minor", BigInteger, nullable=False),
    Index(None, "entry_id"),
    Index(None, "owner_id", "account_kind"),
)

accounts = Table(
    "accounts",
    metadata,
    Column("account_kind", String(32), primary_key=True),
    Column("owner_id", Id, primary_key=True),
    Column("currency", String(3), primary_key=True),
    Column("balance_minor", BigInteger, nullable=False),  # raw sum of postings, debit positive
)

payouts = Table(
    "payouts",
    metadata,
    Column("payout_id", BigId, primary_key=True, autoincrement=True),
    Column("promoter_id", Id, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("amount_minor", BigInteger, nullable=False),
    Column("status", String(24), nullable=False),  # paid | awaiting_approval
    Column("as_of", UTCDateTime(), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("decided_at", UTCDateTime()),
    Column("entry_id", String(160)),
    # Why it awaits approval: review_limit | risk_review; NULL for a payout paid at once.
    Column("hold_reason", String(24)),
    # Who decided an awaiting payout (an API key's name or "cli") and why, as they said it.
    Column("decided_by", String(100)),
    Column("note", Text),
    # What the run kept back for open risk cases (still available), and why, for a person.
    Column("kept_back_minor", BigInteger),
    Column("kept_back_reason", Text),
    Index(None, "promoter_id", "status"),
)

# HTTP API keys: the secret is never stored, only its SHA-256 (see api/auth.py for why).
api_keys = Table(
    "api_keys",
    metadata,
    Column("key_id", String(32), primary_key=True),
    Column("name", String(100), nullable=False),
    Column("role", String(16), nullable=False),  # mall | growth | risk | finance | admin
    Column("secret_sha256", String(64), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("revoked_at", UTCDateTime()),
    Column("created_by", String(100), nullable=False),
)

# Plans v2 accumulators, carried across plan versions: a merchant's month GMV (tiers), a
# promoter's month and all-time attributed GMV (ladder, grades), commission granted per day
# (day caps), and the agent of each region. `value` is an exact "n/d" or integer text (a promoter
# id for an agent); `period` is a local YYYY-MM or YYYY-MM-DD, '' for all time.
plan_tallies = Table(
    "plan_tallies",
    metadata,
    Column("tally_key", String(300), primary_key=True),  # kind|owner|period
    Column("owner_id", String(140), nullable=False),  # "p:", "m:" or "r:" + the owner's id
    Column("period", String(10), nullable=False),
    Column("value", Text, nullable=False),
    Column("version", Integer, nullable=False),
    Index(None, "owner_id", "period"),
)
