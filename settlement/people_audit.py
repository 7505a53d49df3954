"""The audit trail of decisions about people: who, when, what, about whom, why.

One row per decision (an application submitted, approved or rejected; an invite code made or
revoked; a person's data exported or erased; keys rotated). Rows carry ids, codes and the reason
a person typed, never a personal value, so the trail itself needs no erasing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, select

from settlement import people_tables as pt

MAX_AUDIT_LISTED = 10_000
MAX_DETAIL_CHARS = 2_000


@dataclass(frozen=True, slots=True)
class AuditRow:
    at: datetime
    actor: str
    action: str
    subject_id: str
    object_id: str | None
    detail: str | None


def record(conn: Connection, at: datetime, actor: str, action: str, subject_id: str,
           object_id: str | None = None, detail: str | None = None) -> None:
    """Append one decision to the trail (inside the caller's transaction)."""
    conn.execute(pt.people_audit.insert().values(
        at=at, actor=actor[:100], action=action, subject_id=subject_id, object_id=object_id,
        detail=None if detail is None else detail[:MAX_DETAIL_CHARS]))


def about(conn: Connection, subject_id: str, limit: int = MAX_AUDIT_LISTED) -> list[AuditRow]:
    """The decisions about one person, oldest first."""
    c = pt.people_audit.c
    rows = conn.execute(select(c.at, c.actor, c.action, c.subject_id, c.object_id, c.detail)
                        .where(c.subject_id == subject_id).order_by(c.at, c.audit_id)
                        .limit(limit))
    return [AuditRow(*row) for row in rows]
