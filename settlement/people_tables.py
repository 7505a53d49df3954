"""Tables of the promoter lifecycle's people side: applications, invite codes, uses of invite
links, and the audit trail of decisions about people (SQLAlchemy Core; migration 0011).

Personal values are stored only as `personal_data` tokens (`*_token`) and blind indexes
(`*_index`: equal values give equal indexes, nothing else is learned without the key). Device ids
and IP addresses are personal data too: only their blind indexes are kept, enough to count
attempts per device or address per day. Erasing a person sets these columns to NULL.
"""

from __future__ import annotations

from sqlalchemy import Boolean, Column, Index, String, Table, Text, text

from settlement.schema_types import BigId, Id, UTCDateTime, metadata

INDEX_LENGTH = 80  # "<key id>:<64 hex>"

promoter_applications = Table(
    "promoter_applications",
    metadata,
    Column("application_id", String(32), primary_key=True),
    Column("user_id", Id, nullable=False),  # the mall's user id; the promoter id once approved
    Column("status", String(16), nullable=False),  # ApplicationStatus
    Column("name_token", Text),
    Column("phone_token", Text),
    Column("phone_index", String(INDEX_LENGTH)),
    Column("id_number_token", Text),
    Column("documents_token", Text),  # JSON list of document references, encrypted
    Column("inviter_code", String(16)),
    Column("inviter_id", Id),
    Column("training_completed", Boolean, nullable=False),
    Column("device_index", String(INDEX_LENGTH)),
    Column("ip_index", String(INDEX_LENGTH)),
    Column("applied_at", UTCDateTime(), nullable=False),
    Column("decided_at", UTCDateTime()),
    Column("decided_by", String(100)),
    Column("reason", Text),  # why it was rejected, or the reviewer's note on an approval
    Column("joined_event_id", Id),  # the promoter_joined event an approval sent to the books
    Column("erased_at", UTCDateTime()),
    Index(None, "user_id"),
    Index(None, "device_index", "applied_at"),
    Index(None, "ip_index", "applied_at"),
    # A phone belongs to one live application (pending or approved); a rejected one frees it.
    Index("ux_promoter_applications_live_phone", "phone_index", unique=True,
          sqlite_where=text("status != 'rejected'"),
          postgresql_where=text("status != 'rejected'")),
)

invite_codes = Table(
    "invite_codes",
    metadata,
    Column("code", String(16), primary_key=True),  # upper case, unambiguous alphabet
    Column("promoter_id", Id, nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("created_by", String(100), nullable=False),
    Column("revoked_at", UTCDateTime()),
    Column("revoked_by", String(100)),
    Column("revoke_reason", Text),
    Index(None, "promoter_id"),
)

invite_uses = Table(
    "invite_uses",
    metadata,
    Column("use_id", BigId, primary_key=True, autoincrement=True),
    Column("event_id", Id, nullable=False, unique=True),  # the touch sent to the books
    Column("code", String(16), nullable=False),
    Column("promoter_id", Id, nullable=False),
    Column("kind", String(16), nullable=False),  # visit | register
    Column("customer_id", Id, nullable=False),
    Column("channel", String(64)),
    Column("content_id", String(128)),
    Column("device_index", String(INDEX_LENGTH)),
    Column("ip_index", String(INDEX_LENGTH)),
    Column("at", UTCDateTime(), nullable=False),
    Index(None, "code"),
    Index(None, "customer_id"),
    Index(None, "device_index", "at"),
    Index(None, "ip_index", "at"),
    # A customer registers once, through one link.
    Index("ux_invite_uses_one_registration", "customer_id", unique=True,
          sqlite_where=text("kind = 'register'"), postgresql_where=text("kind = 'register'")),
)

# Who decided what about a person, when and why. Never holds a personal value: ids, codes,
# reasons a reviewer typed, counts.
people_audit = Table(
    "people_audit",
    metadata,
    Column("audit_id", BigId, primary_key=True, autoincrement=True),
    Column("at", UTCDateTime(), nullable=False),
    Column("actor", String(100), nullable=False),
    Column("action", String(40), nullable=False),
    Column("subject_id", Id, nullable=False),  # the person: a user or promoter id
    Column("object_id", String(64)),  # an application id or invite code
    Column("detail", Text),
    Index(None, "subject_id"),
    Index(None, "at"),
)
