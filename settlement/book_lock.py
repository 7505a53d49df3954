"""Who may keep state across transactions: one writer holds the book, the others share it.

A writer that keeps what it read across batches (pipeline.py) is only right while nobody else
adds events: another writer's touch or binding would change an attribution without any key or
version noticing. So, on PostgreSQL, every transaction that applies events takes this advisory
lock in shared mode (`share_book`, held to its end: concurrent writers, such as the Kafka
workers, never wait for each other), and the keeping writer takes it exclusively for its whole
run (`try_hold_book`, session-level, never waited for: when other writers are busy it keeps
nothing and reads every batch as they do). SQLite has no advisory locks; there the keeping writer
checks `PRAGMA data_version` in each of its transactions instead and falls back when it moved.
"""

from __future__ import annotations

from sqlalchemy import Connection, text

from settlement.bulk import driver_connection

BOOK_LOCK_ID = 0x66656E626F6F6B  # "fenbook"


def share_book(conn: Connection) -> None:
    """Inside an applying transaction: wait while a keeping writer holds the book (PostgreSQL)."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock_shared(:id)"), {"id": BOOK_LOCK_ID})


def try_hold_book(conn: Connection) -> bool:
    """Take the book alone for this session if nobody applies events now; true if taken.

    Call outside a transaction; the lock outlives the short one this opens. SQLite: always true
    (see `data_version`).
    """
    if conn.dialect.name != "postgresql":
        return True
    with conn.begin():
        return bool(conn.execute(text("SELECT pg_try_advisory_lock(:id)"),
                                 {"id": BOOK_LOCK_ID}).scalar())


def let_go_book(conn: Connection) -> None:
    """Give the book back (PostgreSQL); call outside a transaction."""
    if conn.dialect.name == "postgresql":
        with conn.begin():
            conn.execute(text("SELECT pg_advisory_unlock(:id)"), {"id": BOOK_LOCK_ID})


def data_version(conn: Connection) -> int | None:
    """SQLite's count of commits by other connections, as this connection sees it (None on
    PostgreSQL). Two reads on the same connection differ iff someone else committed between."""
    if conn.dialect.name != "sqlite":
        return None
    # Through the driver: a SQLAlchemy transaction would BEGIN IMMEDIATE just to read this.
    return int(driver_connection(conn).execute("PRAGMA data_version").fetchone()[0])
