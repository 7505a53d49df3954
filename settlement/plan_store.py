"""Stored plan versions: the versions in force for paths that get no plan file (worker, API).

A version stored while writers run reaches them deterministically:
- a writer holds a `PlanWatch` and asks it for the book inside every transaction that applies
  events; it reloads the versions when their count or newest `recorded_at` changed;
- on PostgreSQL those transactions take a shared advisory lock, and storing a version takes it
  exclusively, so a version is never stored in the middle of a transaction that applies events
  (SQLite serialises every writing transaction anyway: fenrun begins them IMMEDIATE);
- a new version must start after every applied payment and touch (`settled_through`): an order
  is settled by the version in force when it was paid, and a version reaching back over settled
  events would make re-settling the same events disagree with the books.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Connection, func, select

from settlement import tables as t
from settlement.engine import EventStatus
from settlement.errors import PlanError
from settlement.plan import PlanBook, PlanVersion, build_version, check_one_currency

PLAN_LOCK_ID = 0x66656E706C616E  # "fenplan": writers share it, storing a version takes it alone
PLAN_READING_TYPES = ("order_paid", "touch")  # the events whose outcome reads the version at ts


def store_versions(conn: Connection, versions: list[PlanVersion]) -> list[str]:
    """Store new versions; a known version must have the same content, and every version the
    currency of those already stored. Returns the new ids.

    A new version whose `effective_from` is not after the last applied payment or touch is
    refused: it would change how already-settled events should have been settled.
    """
    _lock_plans(conn, exclusive=True)
    stored = conn.execute(select(t.plan_versions.c.version_id, t.plan_versions.c.content_hash,
                                 t.plan_versions.c.currency)
                          .order_by(t.plan_versions.c.effective_from)).all()
    known = {row.version_id: row.content_hash for row in stored}
    if stored:
        check_one_currency(versions, stored[0].currency)
    settled = settled_through(conn)
    added = []
    for version in versions:
        stored_hash = known.get(version.version_id)
        if stored_hash is None:
            if settled is not None and version.effective_from <= settled:
                raise PlanError(
                    f"effective_from: {version.effective_from.isoformat()} is not after the last "
                    f"settled payment or touch ({settled.isoformat()}); a version cannot change "
                    "settled history, give it a later effective_from")
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


def settled_through(conn: Connection) -> datetime | None:
    """The instant of the latest applied event whose effect depended on the plan in force.

    Rejected events do not count: they changed nothing, and one offered again is decided by the
    versions stored then, as re-settling the same events would decide it.
    """
    e = t.events.c
    return conn.execute(select(func.max(e.ts)).where(
        e.type.in_(PLAN_READING_TYPES), e.status == EventStatus.APPLIED)).scalar()


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


def _lock_plans(conn: Connection, exclusive: bool) -> None:
    """Held to the end of the transaction; a no-op on SQLite (its writers are serialised)."""
    if conn.dialect.name != "postgresql":
        return
    name = "pg_advisory_xact_lock" if exclusive else "pg_advisory_xact_lock_shared"
    conn.execute(select(getattr(func, name)(PLAN_LOCK_ID)))


class PlanWatch:
    """The plan book of a long-running writer, reloaded when the stored versions change.

    `current(conn)` is called inside the transaction that applies events: it takes the shared
    plan lock, then compares the versions' count and newest `recorded_at` (two aggregates over
    a handful of rows) with what it loaded last.
    """

    def __init__(self) -> None:
        self._plans = PlanBook([])
        self._seen: tuple[int, datetime | None] | None = None

    def current(self, conn: Connection) -> PlanBook:
        """The stored versions as of this transaction; `PlanError` if none is stored."""
        _lock_plans(conn, exclusive=False)
        v = t.plan_versions.c
        count, newest = conn.execute(select(func.count(), func.max(v.recorded_at))).one()
        if (count, newest) != self._seen:
            self._plans = load_plan_book(conn)
            self._seen = (count, newest)
        if not self._plans:
            raise PlanError("no plan version is stored: run `fenrun plan apply PLAN.yaml`")
        return self._plans

    @property
    def stamp(self) -> tuple[int, datetime | None] | None:
        """What `current` last saw (count, newest recorded_at): equal stamps, equal plan books."""
        return self._seen
