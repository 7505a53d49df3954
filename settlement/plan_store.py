"""Stored plan versions: the versions in force for paths that get no plan file (worker, API)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from sqlalchemy import Connection, select

from settlement import tables as t
from settlement.errors import PlanError
from settlement.plan import PlanBook, PlanVersion, build_version


def store_versions(conn: Connection, versions: list[PlanVersion]) -> list[str]:
    """Store new versions; a known version must have the same content. Returns the new ids."""
    known = {row.version_id: row.content_hash for row in conn.execute(
        select(t.plan_versions.c.version_id, t.plan_versions.c.content_hash))}
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
