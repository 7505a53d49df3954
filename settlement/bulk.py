"""Bulk writes through the driver's fastest path: binary COPY on PostgreSQL, executemany on SQLite.

A bulk insert is two steps so that a pipelined writer can split them across threads: `prepare`
turns rows into what the driver sends (the binary COPY stream, or rows with SQLite's instant
text), which is the Python-heavy part, and `send` hands it to the database, which mostly waits
on I/O. Values pass through each column type's own conversion, so what lands in the table is
exactly what SQLAlchemy would have written (UTC instants in one text format on SQLite, for
instance).
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from psycopg import pq
from psycopg.adapt import Transformer
from psycopg.copy import Copy, FileWriter
from sqlalchemy import BigInteger, Boolean, Connection, Integer, Table

from settlement.schema_types import UTCDateTime

try:  # psycopg's own binary row formatter, which `Copy.write_row` calls
    from psycopg._copy_base import format_row_binary as _format_row_binary
except ImportError:  # pragma: no cover - another psycopg layout: `Copy` is used instead
    _format_row_binary = None

# The binary COPY header (signature, flags, header extension length) and trailer, from the
# PostgreSQL COPY documentation, as psycopg writes them.
_COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + bytes(4) + bytes(4)
_COPY_TRAILER = b"\xff\xff"


def sqlite_instant(value: datetime | None) -> str | None:
    """The exact text SQLAlchemy's SQLite DATETIME writes for a UTC instant, at C speed."""
    if value is None:
        return None
    if value.tzinfo is not UTC:
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: instants must be timezone-aware")
        value = value.astimezone(UTC)
    return value.isoformat(" ", "microseconds")[:-6]  # without its "+00:00"


def bind_processors(dialect: Any, table: Table, columns: Sequence[str]) -> list[Callable | None]:
    """Each column's conversion to what the driver is sent (None: sent as is), SQLAlchemy's own
    except for instants on SQLite, which get the same text faster."""
    processors: list[Callable | None] = []
    for name in columns:
        column_type = table.c[name].type
        if dialect.name == "sqlite" and isinstance(column_type, UTCDateTime):
            processors.append(sqlite_instant)
        else:
            processors.append(column_type.bind_processor(dialect))
    return processors


def pg_copy_type(table: Table, name: str) -> str:
    """The PostgreSQL type a binary COPY must send for a column (binary COPY applies no casts)."""
    column_type = table.c[name].type
    if isinstance(column_type, UTCDateTime):
        return "timestamptz"
    if isinstance(column_type, Boolean):
        return "bool"
    if isinstance(column_type, BigInteger):
        return "int8"
    if isinstance(column_type, Integer):
        return "int4"
    return "text"  # String and Text columns: binary text is accepted by varchar and text alike


def driver_connection(conn: Connection) -> Any:
    """The DBAPI connection under `conn`, inside the same transaction."""
    raw = conn.connection.driver_connection
    if raw is None:
        raise RuntimeError("the connection has no live driver connection")
    return raw


@dataclass(frozen=True, slots=True)
class PreparedInsert:
    """Rows of one table ready for the driver: a binary COPY stream, or SQLite parameter rows."""

    table: str
    columns: tuple[str, ...]
    copy_data: bytes | None  # PostgreSQL
    rows: list[Sequence[Any]] | None  # SQLite
    count: int


def prepare(raw: Any, dialect: Any, table: Table, columns: Sequence[str],
            rows: Sequence[Sequence[Any]]) -> PreparedInsert | None:
    """Format `rows` (tuples in `columns` order) for `send`; None when there is nothing to send.

    On PostgreSQL `raw` is any psycopg connection of the same database: it only lends its
    adapters, no query runs (so the formatting may happen on a reader's connection while a
    writer thread sends the previous batch on its own).
    """
    if not rows:
        return None
    if dialect.name == "postgresql":
        types = [pg_copy_type(table, name) for name in columns]
        return PreparedInsert(table.name, tuple(columns), binary_copy_data(raw, types, rows),
                              None, len(rows))
    active = [(index, p) for index, p in enumerate(bind_processors(dialect, table, columns))
              if p is not None]
    converted: list[Sequence[Any]] = list(rows)
    if active:  # column by column: the transposing and the loops over values run in C
        by_column: list[Iterable[Any]] = list(zip(*rows, strict=True))
        for index, process in active:
            by_column[index] = map(process, by_column[index])
        converted = list(zip(*by_column, strict=True))
    return PreparedInsert(table.name, tuple(columns), None, converted, len(rows))


def copy_data_through_psycopg(raw: Any, types: Sequence[str],
                              rows: Sequence[Sequence[Any]]) -> bytes:
    """The binary COPY stream of `rows` as psycopg's own `Copy` writes it (the reference the fast
    formatter below must equal byte for byte, and its fallback)."""
    buffer = io.BytesIO()
    with raw.cursor() as cursor, Copy(cursor, binary=True, writer=FileWriter(buffer)) as copy:
        copy.set_types(types)
        for row in rows:
            copy.write_row(row)
    return buffer.getvalue()


def binary_copy_data(raw: Any, types: Sequence[str], rows: Sequence[Sequence[Any]]) -> bytes:
    """The binary COPY stream of `rows` (PostgreSQL type names in `types`), as psycopg's `Copy`
    writes it: header, one record per row, trailer.

    Rows go straight to psycopg's row formatter (C in its binary build), one call each: the two
    Python layers of `Copy.write_row` above it cost more than the formatting itself, in the
    thread that decides batches. Without that formatter, through `Copy` itself.
    """
    if _format_row_binary is None:
        return copy_data_through_psycopg(raw, types, rows)
    transformer = Transformer.from_context(raw)
    registry = raw.adapters.types
    transformer.set_dumper_types([registry.get_oid(name) for name in types], pq.Format.BINARY)
    out = bytearray(_COPY_HEADER)
    for row in rows:
        _format_row_binary(row, transformer, out)
    out += _COPY_TRAILER
    return bytes(out)


def send(raw: Any, prepared: PreparedInsert | None) -> None:
    """Insert prepared rows through the driver, inside its current transaction."""
    if prepared is None:
        return
    column_list = ", ".join(prepared.columns)
    if prepared.copy_data is not None:
        with raw.cursor() as cursor, cursor.copy(
                f"COPY {prepared.table} ({column_list}) FROM STDIN (FORMAT BINARY)") as copy:
            copy.write(prepared.copy_data)
        return
    placeholders = ", ".join("?" for _ in prepared.columns)
    cursor = raw.cursor()
    try:
        cursor.executemany(
            f"INSERT INTO {prepared.table} ({column_list}) VALUES ({placeholders})",
            prepared.rows or [])
    finally:
        cursor.close()


def bulk_insert(conn: Connection, table: Table, columns: Sequence[str],
                rows: Sequence[Sequence[Any]]) -> None:
    """Insert `rows` (tuples in `columns` order) inside the connection's current transaction."""
    raw = driver_connection(conn)
    send(raw, prepare(raw, conn.dialect, table, columns, rows))
