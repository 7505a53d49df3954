"""Stored plan versions: the versions in force for paths that get no plan file (worker, API)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Connection, select

from settlement import tables as t
from settlement.errors import PlanError
from settlement.plan import PlanBook, PlanVersion, build_version, check_one_currency


def store_versions(conn: Connection, versions: list[PlanVersion]) -> list[str]:
    """Store new versions; a known version must have the same content, and every version the
    currency of those already stored. Returns the new ids."""
    stored = conn.execute(select(t.plan_versions.c.version_id, t.plan_versions.c.content_hash,
                                 t.plan_versions.c.currency)
                          .order_by(t.plan_versions.c.effective_from)).all()
    known = {row.version_id: row.content_hash for row in stored}
    if stored:
        check_one_currency(versions, stored[0].currency)
    added = []
    for version in versions:
        stored_hash = known.get(version.version_id)
        if stored_hash is None:
            conn.execute(t.plan_versions.insert().values(
                version_id=version.version_id, effective_from=version.effective_from,
                currency=version.currency, content_hash=version.content_hash,
                document=json.dumps(version.document, sort_keys=True),
                recorded_at=datetime.now(UTC)))
            known[version.version_id] = version.content_hash
            added.append(version.version_id)
        elif stored_hash != version.content_hash:
            raise PlanError(
                f"effective_from: version {version.version_id} is already stored with different "
                "content; published versions never change, add a version with a later date"
            )
    return added


def load_plan_book(conn: Connection) -> PlanBook:
    rows = conn.execute(select(t.plan_versions.c.document)).scalars().all()
    return PlanBook([build_version(json.loads(document)) for document in rows])


@dataclass(frozen=True, slots=True)
class StoredVersion:
    """A stored plan version with when it was recorded."""

    version: PlanVersion
    recorded_at: datetime


def stored_versions(conn: Connection) -> list[StoredVersion]:
    """Every stored version, oldest `effective_from` first."""
    rows = conn.execute(select(t.plan_versions.c.document, t.plan_versions.c.recorded_at)
                        .order_by(t.plan_versions.c.effective_from)).all()
    return [StoredVersion(build_version(json.loads(row.document)), row.recorded_at)
            for row in rows]
