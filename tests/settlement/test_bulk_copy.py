"""Proves that the binary COPY stream settle formats row by row is byte for byte the one psycopg's
own `Copy` writes for the same rows and types (NULLs, text beyond ASCII, bools, ints, instants)."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import psycopg
from psycopg.copy import Copy, FileWriter

from settlement.bulk import binary_copy_data

TYPES = ["text", "int8", "int4", "bool", "timestamptz", "text"]
ROWS = [
    ("O1", 12_345, 1, True, datetime(2026, 1, 2, 3, 4, 5, 678_901, tzinfo=UTC), None),
    ("订单-2 \"quoted\"", -(2**62), -7, False, datetime(2026, 1, 2, tzinfo=UTC), "{\"a\":1}"),
    ("", 0, 0, None, None, ""),
    ("O3", 9, 2**31 - 1, True,
     datetime(2026, 6, 1, 8, tzinfo=UTC).astimezone(UTC) + timedelta(microseconds=1), "x"),
]


def _through_copy(raw: psycopg.Connection, types: list[str], rows: list[tuple]) -> bytes:
    buffer = io.BytesIO()
    with raw.cursor() as cursor, Copy(cursor, binary=True, writer=FileWriter(buffer)) as copy:
        copy.set_types(types)
        for row in rows:
            copy.write_row(row)
    return buffer.getvalue()


def test_rows_format_as_psycopgs_copy_writes_them(postgres_url: str) -> None:
    with psycopg.connect(postgres_url.replace("postgresql+psycopg", "postgresql")) as raw:
        assert binary_copy_data(raw, TYPES, ROWS) == _through_copy(raw, TYPES, ROWS)
        assert binary_copy_data(raw, TYPES, ROWS[:1]) == _through_copy(raw, TYPES, ROWS[:1])
        assert binary_copy_data(raw, TYPES, []) == _through_copy(raw, TYPES, [])


def test_the_stream_loads_back_the_same_rows(postgres_url: str) -> None:
    with psycopg.connect(postgres_url.replace("postgresql+psycopg", "postgresql")) as raw:
        raw.execute("CREATE TEMP TABLE t (a text, b int8, c int4, d bool, e timestamptz, f text)")
        with raw.cursor() as cursor, cursor.copy("COPY t FROM STDIN (FORMAT BINARY)") as copy:
            copy.write(binary_copy_data(raw, TYPES, ROWS))
        got = raw.execute("SELECT * FROM t").fetchall()
    assert [tuple(row) for row in got] == [tuple(row) for row in ROWS]
