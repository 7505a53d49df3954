"""Bulk writes through the driver's fastest path: COPY on PostgreSQL, executemany on SQLite.

Values pass through each column type's own bind processor, so what lands in the table is exactly
what SQLAlchemy would have written (UTC instants in one text format on SQLite, for instance).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Table

from settlement.schema_types import UTCDateTime


def sqlite_instant(value: datetime | None) -> str | None:
    """The exact text SQLAlchemy's SQLite DATETIME writes for a UTC instant, at C speed."""
    if value is None:
        return None
    if value.tzinfo is not UTC:
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: instants must be timezone-aware")
        value = value.astimezone(UTC)
    return value.replace(tzinfo=None).isoformat(" ", "microseconds")


def _processors(conn: Connection, table: Table, columns: Sequence[str]) -> list[Callable | None]:
    dialect = conn.dialect
    processors: list[Callable | None] = []
    for name in columns:
        column_type = table.c[name].type
        if dialect.name == "sqlite" and isinstance(column_type, UTCDateTime):
            processors.append(sqlite_instant)
        elif dialect.name == "postgresql" and isinstance(column_type, UTCDateTime):
            processors.append(None)  # psycopg writes aware datetimes to timestamptz as they are
        else:
            processors.append(column_type.bind_processor(dialect))
    return processors


def driver_connection(conn: Connection) -> Any:
    """The DBAPI connection under `conn`, inside the same transaction."""
    raw = conn.connection.driver_connection
    if raw is None:
        raise RuntimeError("the connection has no live driver connection")
    return raw


def bulk_insert(conn: Connection, table: Table, columns: Sequence[str],
                rows: Sequence[Sequence[Any]]) -> None:
    """Insert `rows` (tuples in `columns` order) inside the connection's current transaction."""
    if not rows:
        return
    processors = _processors(conn, table, columns)
    active = [(index, p) for index, p in enumerate(processors) if p is not None]
    if active:
        converted = []
        for row in rows:
            values = list(row)
            for index, process in active:
                values[index] = process(values[index])
            converted.append(values)
        rows = converted
    raw = driver_connection(conn)
    column_list = ", ".join(columns)
    if conn.dialect.name == "postgresql":
        with raw.cursor() as cursor, cursor.copy(
                f"COPY {table.name} ({column_list}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        return
    placeholders = ", ".join("?" for _ in columns)
    cursor = raw.cursor()
    try:
        cursor.executemany(f"INSERT INTO {table.name} ({column_list}) VALUES ({placeholders})",
                           rows)
    finally:
        cursor.close()
